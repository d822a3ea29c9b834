//! The emulator's DynamoDB applies a `TransactWriteItems` once per client request token, as AWS
//! does ("TransactWriteItems", ClientRequestToken): a repeat of the same request answers success
//! and writes nothing, the same token with other items is refused, a new token is a new request.
//! The controller's fault exploration relies on it (a transaction whose answer was lost is retried
//! by the SDK with the same token).

use alb_canary_tests::Moto;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem, Update,
};

const TABLE: &str = "idempotency";

async fn table(moto: &Moto) -> Client {
    let ddb = Client::new(&moto.sdk_config().await);
    ddb.create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("table created");
    ddb
}

/// Adds 1 to `n` of item `pk`, and puts a marker item that must not exist yet.
fn increment(pk: &str, marker: &str) -> Vec<TransactWriteItem> {
    let update = Update::builder()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(pk.into()))
        .update_expression("ADD n :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .unwrap();
    let put = Put::builder()
        .table_name(TABLE)
        .item("pk", AttributeValue::S(marker.into()))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .unwrap();
    vec![
        TransactWriteItem::builder().update(update).build(),
        TransactWriteItem::builder().put(put).build(),
    ]
}

async fn transact(ddb: &Client, token: &str, items: Vec<TransactWriteItem>) -> Result<(), String> {
    ddb.transact_write_items()
        .client_request_token(token)
        .set_transact_items(Some(items))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| err.code().unwrap_or("no code").to_string())
}

async fn count(ddb: &Client, pk: &str) -> Option<String> {
    let item = ddb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("item read")
        .item;
    item.and_then(|i| i.get("n").and_then(|n| n.as_n().ok()).cloned())
}

#[tokio::test]
async fn a_repeated_token_applies_its_transaction_once() {
    let moto = Moto::start();
    let ddb = table(&moto).await;
    assert_eq!(
        transact(&ddb, "token-1", increment("c", "m1")).await,
        Ok(())
    );
    // The same request again (a retry after a lost answer): success, nothing written, where
    // applying it again would fail the marker's condition.
    assert_eq!(
        transact(&ddb, "token-1", increment("c", "m1")).await,
        Ok(())
    );
    assert_eq!(count(&ddb, "c").await.as_deref(), Some("1"));
    // The same token with other items.
    assert_eq!(
        transact(&ddb, "token-1", increment("c", "m2")).await,
        Err("IdempotentParameterMismatchException".into())
    );
    assert_eq!(count(&ddb, "c").await.as_deref(), Some("1"));
    // A new token is a new request: applied, and its condition checked.
    assert_eq!(
        transact(&ddb, "token-2", increment("c", "m2")).await,
        Ok(())
    );
    assert_eq!(count(&ddb, "c").await.as_deref(), Some("2"));
    assert_eq!(
        transact(&ddb, "token-3", increment("c", "m2")).await,
        Err("TransactionCanceledException".into())
    );
    assert_eq!(count(&ddb, "c").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn a_failed_transaction_is_applied_by_its_retry() {
    let moto = Moto::start();
    let ddb = table(&moto).await;
    // The marker exists: the first attempt is cancelled and writes nothing.
    assert_eq!(
        transact(&ddb, "seed", increment("other", "m")).await,
        Ok(())
    );
    assert_eq!(
        transact(&ddb, "token", increment("c", "m")).await,
        Err("TransactionCanceledException".into())
    );
    assert_eq!(count(&ddb, "c").await, None);
    // Once the marker is gone, the same request with the same token is applied (AWS remembers
    // only transactions that succeeded).
    ddb.delete_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S("m".into()))
        .send()
        .await
        .expect("marker deleted");
    assert_eq!(transact(&ddb, "token", increment("c", "m")).await, Ok(()));
    assert_eq!(count(&ddb, "c").await.as_deref(), Some("1"));
}
