//! The promotion Lambda: invoked by the EventBridge schedule, moves the canary one decision forward.

// This code runs inside the Lambdas, where a panic aborts the invocation: errors are returned.
#![deny(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    controller::lambda::serve(controller::handle_promotion).await
}
