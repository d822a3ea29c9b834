//! The crate's HTTP contract through the real router, in-process (no socket): answers, errors and fault knobs.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use recommender::{AppState, Config, Model, app};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(
    config: &Config,
    method: Method,
    path: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let response = app(AppState::new(config)).oneshot(request).await.unwrap();
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "every answer is JSON ({status})"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
        panic!(
            "answer is not JSON ({err}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

async fn recommend(config: &Config, body: &str) -> (StatusCode, Value) {
    call(
        config,
        Method::POST,
        "/api/v1/recommendation",
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn v1_answers_its_two_items() {
    let (status, body) = recommend(&Config::new(Model::V1), r#"{"user_id": "u-7"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["model_id"], "V1 - Stable");
    assert_eq!(
        body["recommendation"],
        json!(["item_X_old_model", "item_Y_old_model"])
    );
    assert_eq!(body["event_log"], "User u-7 purchase processed.");
    assert!(body["latency_ms"].is_u64());
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["event_log", "recommendation", "model_id", "latency_ms"]
    );
}

#[tokio::test]
async fn v2_answers_three_items_after_its_inference_time() {
    let (status, body) = recommend(&Config::new(Model::V2), r#"{"user_id": "u-7"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["model_id"], "V2 - DeepLearning - Canary");
    assert_eq!(
        body["recommendation"],
        json!(["item_A_new", "item_B_new", "item_C_new"])
    );
    assert_eq!(
        body["event_log"],
        "User u-7 purchase processed. Metrics available."
    );
    // A lower bound only: the reported latency includes V2's simulated 50 ms inference.
    assert!(body["latency_ms"].as_u64().unwrap() >= 50, "{body}");
}

#[tokio::test]
async fn missing_or_null_user_id_reads_as_n_a() {
    for body in [r#"{}"#, r#"{"user_id": null}"#, r#"{"other": 1}"#] {
        let (status, answer) = recommend(&Config::new(Model::V1), body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            answer["event_log"], "User N/A purchase processed.",
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_400_json() {
    for body in ["user_id=u-1", "", "{\"user_id\": ", "\u{0}\u{1}"] {
        let (status, answer) = recommend(&Config::new(Model::V2), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(answer["error"], "invalid_json", "{body:?}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .starts_with("the body is not JSON")
        );
    }
}

#[tokio::test]
async fn wrong_types_get_422_json_naming_the_problem() {
    let cases = [
        (
            r#"{"user_id": 42}"#,
            "`user_id` must be a string, not a number",
        ),
        (
            r#"{"user_id": ["a"]}"#,
            "`user_id` must be a string, not an array",
        ),
        (r#"["u-1"]"#, "not an array"),
        (r#""u-1""#, "not a string"),
    ];
    for (body, message) in cases {
        let (status, answer) = recommend(&Config::new(Model::V1), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer["error"], "invalid_request");
        assert!(
            answer["message"].as_str().unwrap().contains(message),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn an_oversize_body_gets_413_json() {
    let config = Config::new(Model::V1);
    let user_id = "x".repeat(config.body_limit);
    let (status, answer) = recommend(&config, &json!({ "user_id": user_id }).to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"], "body_too_large");
    // Just under the limit is still served.
    let user_id = "x".repeat(config.body_limit - 20);
    let (status, _) = recommend(&config, &json!({ "user_id": user_id }).to_string()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn health_unknown_routes_and_wrong_methods() {
    let config = Config::new(Model::V2);
    let (status, body) = call(&config, Method::GET, "/health", Body::empty()).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"status": "ok", "model_id": "V2 - DeepLearning - Canary"})
        )
    );
    let (status, body) = call(&config, Method::GET, "/", Body::empty()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = call(
        &config,
        Method::GET,
        "/api/v1/recommendation",
        Body::empty(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn error_rate_one_answers_500_on_recommendations_but_health_stays_ok() {
    let mut config = Config::new(Model::V2);
    config.faults.error_rate = 1.0;
    for _ in 0..20 {
        let (status, body) = recommend(&config, r#"{"user_id": "u-1"}"#).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "injected_fault");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("RECOMMENDER_ERROR_RATE")
        );
    }
    let (status, _) = call(&config, Method::GET, "/health", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn error_rate_between_zero_and_one_mixes_answers() {
    let mut config = Config::new(Model::V1);
    config.faults.error_rate = 0.5;
    let mut statuses = Vec::new();
    // 200 draws at 0.5: the chance of seeing only one kind is 2^-199.
    for _ in 0..200 {
        statuses.push(recommend(&config, r#"{"user_id": "u-1"}"#).await.0);
    }
    assert!(statuses.contains(&StatusCode::OK));
    assert!(statuses.contains(&StatusCode::INTERNAL_SERVER_ERROR));
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::INTERNAL_SERVER_ERROR)
    );
}

#[tokio::test]
async fn extra_latency_is_added_and_reported() {
    let mut config = Config::new(Model::V1);
    config.faults.extra_latency = Duration::from_millis(120);
    let (status, body) = recommend(&config, r#"{"user_id": "u-1"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["latency_ms"].as_u64().unwrap() >= 120, "{body}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the body, the answer is 200 or a 4xx, always JSON: bad input never crashes the service.
    #[test]
    fn any_body_gets_200_or_a_4xx_json(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<String>().prop_map(String::into_bytes),
        any::<Option<String>>().prop_map(|id| json!({ "user_id": id }).to_string().into_bytes()),
        (any::<i64>(), any::<bool>()).prop_map(|(n, b)| json!({ "user_id": n, "x": b }).to_string().into_bytes()),
    ]) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, answer) = runtime.block_on(call(&Config::new(Model::V1), Method::POST, "/api/v1/recommendation", body));
        prop_assert!(status == StatusCode::OK || status.is_client_error(), "{status} {answer}");
        if status != StatusCode::OK {
            prop_assert!(answer["error"].is_string() && answer["message"].is_string(), "{answer}");
        }
    }
}
