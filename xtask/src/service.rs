pub fn publish(_args: &[String]) -> crate::Result {
    Err("not built yet".into())
}

pub fn bench(_args: &[String]) -> crate::Result {
    Err("not built yet".into())
}
