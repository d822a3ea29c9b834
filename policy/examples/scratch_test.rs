use cfn_guard::CommandBuilder;
use cfn_guard::commands::Executable;
use cfn_guard::commands::validate::{OutputFormatType, ShowSummaryType};
use cfn_guard::utils::reader::{ReadBuffer, Reader};
use cfn_guard::utils::writer::{WriteBuffer, Writer};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rules: Vec<String> = args[2..].iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let data = std::fs::read_to_string(&args[1]).unwrap();
    let payload = serde_json::json!({"rules": rules, "data": [data]}).to_string();
    let cmd = cfn_guard::ValidateBuilder::default().payload(true).structured(true).output_format(OutputFormatType::JSON).show_summary(vec![ShowSummaryType::None]).try_build().unwrap();
    let mut w = Writer::new_with_err(WriteBuffer::Vec(vec![]), WriteBuffer::Vec(vec![])).unwrap();
    let mut r = Reader::new(ReadBuffer::Cursor(std::io::Cursor::new(payload.into_bytes())));
    let code = cmd.execute(&mut w, &mut r);
    eprintln!("code {code:?}");
    println!("{}", w.into_string().unwrap());
}
