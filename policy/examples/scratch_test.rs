use cfn_guard::commands::Executable;
use cfn_guard::CommandBuilder;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = cfn_guard::TestBuilder::default().rules(Some(args[1].clone())).test_data(Some(args[2].clone())).verbose(args.len() > 3).try_build().unwrap();
    let mut w = cfn_guard::utils::writer::Writer::new_with_err(cfn_guard::utils::writer::WriteBuffer::Vec(vec![]), cfn_guard::utils::writer::WriteBuffer::Vec(vec![])).unwrap();
    let mut r = cfn_guard::utils::reader::Reader::new(cfn_guard::utils::reader::ReadBuffer::Cursor(std::io::Cursor::new(vec![])));
    let code = cmd.execute(&mut w, &mut r);
    println!("code {code:?}");
    println!("{}", w.into_string().unwrap());
}
