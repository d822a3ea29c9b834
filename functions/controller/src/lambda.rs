//! The Lambda entry point both functions share: logging, settings and clients once per cold start,
//! then every event to the function's handler.

use crate::{Clients, Config, Error, Outcome, report};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

pub async fn serve(
    handler: impl AsyncFn(&Clients, &Config, Value) -> Result<Outcome, Error>,
) -> Result<(), lambda_runtime::Error> {
    report::init_logging();
    // Read once per cold start; a bad setting stops here with its name in the message.
    let config = Config::from_env().inspect_err(|err| {
        // Printed whole (the returned error is shown in its Debug form).
        tracing::error!(error = %err, "cold start stopped");
        eprintln!("{err}");
    })?;
    let clients = Clients::from_env().await;
    let handler = &handler;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (clients, config) = (&clients, &config);
        async move { handler(clients, config, event.payload).await }
    }))
    .await
}
