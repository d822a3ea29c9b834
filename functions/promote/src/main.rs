//! The promotion Lambda: invoked by the EventBridge schedule, moves the canary one decision forward.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    controller::lambda::serve(controller::handle_promotion).await
}
