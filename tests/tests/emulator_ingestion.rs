//! The emulator's CloudWatch ingestion delay (`ALB_CANARY_INGESTION_DELAY`), which the lab uses to
//! rehearse the target signal's high-resolution metrics: a put succeeds at once, its data stays
//! invisible to reads until the delay has passed, other namespaces are untouched, and a malformed
//! setting stops the server at start.

use std::time::{Duration, Instant};

use alb_canary_tests::Moto;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use aws_smithy_types::DateTime;

const DELAYED: &str = "AlbCanary/Targets";
const IMMEDIATE: &str = "AWS/ApplicationELB";

async fn put(cw: &Client, namespace: &str, at: i64) {
    cw.put_metric_data()
        .namespace(namespace)
        .metric_data(
            MetricDatum::builder()
                .metric_name("RequestCount")
                .timestamp(DateTime::from_secs(at))
                .value(7.0)
                .unit(StandardUnit::Count)
                .storage_resolution(1)
                .build(),
        )
        .send()
        .await
        .expect("the put succeeds at once, delayed or not");
}

async fn sum(cw: &Client, namespace: &str, at: i64) -> Option<f64> {
    let out = cw
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("m")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(namespace)
                                .metric_name("RequestCount")
                                .build(),
                        )
                        .period(10)
                        .stat("Sum")
                        .build(),
                )
                .build(),
        )
        .start_time(DateTime::from_secs(at))
        .end_time(DateTime::from_secs(at + 10))
        .send()
        .await
        .unwrap();
    out.metric_data_results()[0].values().first().copied()
}

#[tokio::test]
async fn a_delayed_namespace_is_read_only_after_its_delay_and_others_at_once() {
    let moto = Moto::start_with(&[
        ("ALB_CANARY_INGESTION_DELAY", format!("{DELAYED}=6-6")),
        ("ALB_CANARY_INGESTION_SEED", "1".into()),
    ]);
    let cw = Client::new(&moto.sdk_config().await);
    let at = controller_free_now() / 10 * 10 - 60;
    let put_at = Instant::now();
    put(&cw, DELAYED, at).await;
    put(&cw, IMMEDIATE, at).await;
    assert_eq!(sum(&cw, IMMEDIATE, at).await, Some(7.0));
    let first = sum(&cw, DELAYED, at).await;
    // Read well inside the 6 s: nothing yet (the two puts and reads take milliseconds).
    if put_at.elapsed() < Duration::from_secs(5) {
        assert_eq!(first, None, "a delayed datum was visible at once");
    }
    let mut seen = None;
    while seen.is_none() && put_at.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        seen = sum(&cw, DELAYED, at).await;
    }
    assert_eq!(seen, Some(7.0), "the delayed datum never became visible");
    assert!(
        put_at.elapsed() >= Duration::from_secs(6),
        "visible before its delay"
    );
}

fn controller_free_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn a_malformed_delay_stops_the_server_and_names_the_entry() {
    for bad in [
        "AlbCanary/Targets=8-2",
        "AlbCanary/Targets=2",
        "=1-2",
        "x=a-b",
    ] {
        // Under `timeout`: a server that wrongly starts is stopped, and the test fails below.
        let out = std::process::Command::new("timeout")
            .arg("20")
            .arg(alb_canary_tests::tool("alb-canary-moto"))
            .args([
                "-H",
                "127.0.0.1",
                "-p",
                &alb_canary_tests::free_port().to_string(),
            ])
            .env("ALB_CANARY_INGESTION_DELAY", bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: the server started");
        assert!(
            stderr.contains("ALB_CANARY_INGESTION_DELAY")
                && stderr.contains(bad.split(';').next().unwrap()),
            "{bad}: {stderr}"
        );
    }
}
