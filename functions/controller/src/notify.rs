//! The SNS adapter: one notification per rollback, drift or completion.

use crate::config::Config;
use crate::error::Error;

pub async fn publish(
    sns: &aws_sdk_sns::Client,
    config: &Config,
    subject: &str,
    body: &canary::history::Record,
) -> Result<(), Error> {
    // SNS subjects are limited to 100 characters.
    let subject: String = subject.chars().take(100).collect();
    sns.publish()
        .topic_arn(&config.topic_arn)
        .subject(subject)
        .message(body.to_json().to_string())
        .send()
        .await
        .map_err(Error::aws)?;
    Ok(())
}
