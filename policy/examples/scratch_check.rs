fn main() {
    let path = std::env::args().nth(1).unwrap();
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let r = policy::check(&t).unwrap();
    println!("{r}");
}
