//! The emulator's authentication, as tests drive it: moto checks nothing until told to (its
//! `INITIAL_NO_AUTH_ACTION_COUNT`, reset at run time), and a role's temporary credentials come from
//! its STS.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::Moto;
use crate::boot::imds::Credentials;

/// From now on the emulator checks every request's signature and the caller's IAM policies
/// (`"0"`), or nothing (`"inf"`, its default); panics unless it agrees.
pub fn reset_auth(moto: &Moto, unauthenticated_calls_left: &str) {
    let status = moto_api(moto, "/moto-api/reset-auth", unauthenticated_calls_left);
    assert_eq!(status, 200, "moto's reset-auth");
}

/// A POST to the emulator's own API; the status.
fn moto_api(moto: &Moto, path: &str, body: &str) -> u16 {
    let host = moto.endpoint().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&host).expect("moto accepts connections");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {response}"))
}

/// STS AssumeRole on the emulator, before signatures are checked (the SDK's STS crate is not a
/// dependency; one Query call is enough): the role's temporary credentials.
pub fn assume_role(moto: &Moto, role_arn: &str) -> Credentials {
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleSessionName=i-boot-rehearsal&RoleArn={}",
        role_arn.replace(':', "%3A").replace('/', "%2F")
    );
    let response = moto.query("sts", &body);
    let value = |tag: &str| {
        response
            .split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("</{tag}>")).next())
            .unwrap_or_else(|| panic!("AssumeRole answered without {tag}: {response}"))
            .to_owned()
    };
    Credentials {
        access_key_id: value("AccessKeyId"),
        secret_access_key: value("SecretAccessKey"),
        session_token: value("SessionToken"),
        expiration: value("Expiration"),
    }
}
