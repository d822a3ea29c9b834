//! The emulator's authentication, as tests drive it: moto checks nothing until told to (its
//! `INITIAL_NO_AUTH_ACTION_COUNT`, reset at run time), and a role's temporary credentials come from
//! its STS.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::Moto;
use crate::boot::imds::Credentials;
use crate::template::{Deployment, scalar};

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

/// The template's instance role, created in the emulator as the stack writes it: its trust, its
/// inline policies and, when its condition holds, the target signal's policy (a resource of its
/// own). Session Manager's managed policy is left out: it grants nothing the tests call. The
/// role's ARN.
pub async fn instance_role(
    iam: &aws_sdk_iam::Client,
    deployment: &Deployment,
    name: &str,
) -> String {
    let trust = deployment.property("InstanceRole", &["AssumeRolePolicyDocument"]);
    let arn = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("CreateRole")
        .role()
        .expect("a role")
        .arn()
        .to_owned();
    let mut policies: Vec<(String, String)> = deployment
        .property("InstanceRole", &["Policies"])
        .as_array()
        .expect("inline policies")
        .iter()
        .map(|p| (scalar(&p["PolicyName"]), p["PolicyDocument"].to_string()))
        .collect();
    if deployment.condition("TargetSignalOn") {
        let policy = "InstanceTargetSignalPolicy";
        policies.push((
            scalar(&deployment.property(policy, &["PolicyName"])),
            deployment.property(policy, &["PolicyDocument"]).to_string(),
        ));
    }
    for (policy_name, document) in policies {
        iam.put_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .expect("PutRolePolicy");
    }
    arn
}

/// An IAM user allowed everything, with an access key of its own (the emulator's default keys
/// belong to no user once signatures are checked): its key id and secret.
pub async fn operator(iam: &aws_sdk_iam::Client, name: &str) -> (String, String) {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("CreateUser");
    iam.put_user_policy()
        .user_name(name)
        .policy_name("everything")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutUserPolicy");
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("CreateAccessKey");
    let key = key.access_key().expect("an access key");
    (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    )
}

/// An SDK configuration for the emulator signing with a long-term key (no session token).
pub async fn signed_as(moto: &Moto, key_id: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            key_id,
            secret,
            None,
            None,
            "signed-as",
        ))
        .load()
        .await
}
