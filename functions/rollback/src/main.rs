//! The rollback Lambda: invoked by a CloudWatch alarm on V2, sets V2's weight to 0.

use controller::{Clients, Config, report};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    report::init_logging();
    // Read once per cold start; a bad setting stops here with its name in the message.
    let config = Config::from_env().inspect_err(|err| {
        // Printed whole (the returned error is shown in its Debug form).
        tracing::error!(error = %err, "cold start stopped");
        eprintln!("{err}");
    })?;
    let clients = Clients::from_env().await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (clients, config) = (&clients, &config);
        async move { controller::handle_alarm(clients, config, event.payload).await }
    }))
    .await
}
