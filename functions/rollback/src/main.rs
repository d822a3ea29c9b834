//! The rollback Lambda: invoked by a CloudWatch alarm on V2, sets V2's weight to 0.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    controller::lambda::serve(controller::handle_alarm).await
}
