//! The addresses of `docs/network.md` that the network, NACL and security-group tests assert against, and
//! the certificate that switches the stack to HTTPS.

pub const ANYWHERE: &str = "0.0.0.0/0";
pub const PUBLIC: [&str; 2] = ["10.0.10.0/24", "10.0.11.0/24"];
pub const PRIVATE: [&str; 2] = ["10.0.20.0/24", "10.0.21.0/24"];
pub const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234";
