//! The listener's forward action: read in either order, any other shape refused, and the action
//! the controller writes complete, with stickiness kept or switched off.

use alb_canary_tests::requests::forward;
use alb_canary_tests::settings;
use aws_sdk_elasticloadbalancingv2::types::TargetGroupStickinessConfig;
use controller::Error;
use controller::decision::Weights;
use controller::listener::{action, parse, target_group_dimension};

#[test]
fn reads_weights_in_either_order() {
    let c = settings::config();
    let live = parse(
        &c,
        &[forward(&[(&c.canary_tg_arn, 10), (&c.stable_tg_arn, 90)])],
    )
    .unwrap();
    assert_eq!(
        live.weights,
        Weights {
            stable: 90,
            canary: 10
        }
    );
}

#[test]
fn refuses_other_shapes() {
    let c = settings::config();
    let other = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v3/3";
    for actions in [
        vec![forward(&[
            (&c.stable_tg_arn, 90),
            (&c.canary_tg_arn, 5),
            (other, 5),
        ])],
        vec![forward(&[(&c.stable_tg_arn, 90), (other, 10)])],
        vec![forward(&[(&c.stable_tg_arn, 100)])],
        vec![],
    ] {
        let err = parse(&c, &actions).unwrap_err();
        assert!(matches!(err, Error::ListenerShape { .. }), "{err}");
    }
    let err = parse(
        &c,
        &[forward(&[(&c.stable_tg_arn, 5000), (&c.canary_tg_arn, 0)])],
    )
    .unwrap_err();
    assert!(err.to_string().contains("5000"), "{err}");
}

#[test]
fn written_action_is_complete_and_unsticks_on_rollback() {
    let c = settings::config();
    let sticky = TargetGroupStickinessConfig::builder()
        .enabled(true)
        .duration_seconds(60)
        .build();
    let a = action(
        &c,
        Weights {
            stable: 75,
            canary: 25,
        },
        Some(&sticky),
        false,
    )
    .unwrap();
    let live = parse(&c, std::slice::from_ref(&a)).unwrap();
    assert_eq!(
        live.weights,
        Weights {
            stable: 75,
            canary: 25
        }
    );
    assert_eq!(live.stickiness, Some(sticky.clone()));
    let a = action(&c, Weights::STABLE_ONLY, Some(&sticky), true).unwrap();
    let fc = a.forward_config().unwrap();
    assert_eq!(
        fc.target_group_stickiness_config().unwrap().enabled(),
        Some(false)
    );
    assert!(
        action(
            &c,
            Weights {
                stable: 0,
                canary: 0
            },
            None,
            false
        )
        .is_err()
    );
    assert!(
        action(
            &c,
            Weights {
                stable: 1000,
                canary: 0
            },
            None,
            false
        )
        .is_err()
    );
}

#[test]
fn target_group_dimension_is_the_arn_suffix() {
    assert_eq!(
        target_group_dimension("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v2/abc"),
        Some("targetgroup/v2/abc")
    );
    assert_eq!(target_group_dimension("nope"), None);
}
