//! The rollback Lambda: invoked by a CloudWatch alarm on the canary, sets the canary's weight to 0.

// This code runs inside the Lambdas, where a panic aborts the invocation: errors are returned.
#![deny(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    controller::lambda::serve(controller::handle_alarm).await
}
