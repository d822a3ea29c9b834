pub async fn run(_args: &[String]) -> crate::Result {
    Err("not built yet".into())
}
