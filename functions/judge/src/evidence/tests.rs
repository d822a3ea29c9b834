//! The checked values of `docs/judge.md`, pinned to 1e-9 against an independent
//! 50-digit computation (`tests/reference_values.py`), and to the page's four decimals; `R0` is
//! the default plan's `max_ratio`.

use super::*;

const R0: f64 = 1.0;
const FLOOR: f64 = 0.001;

fn minute(n1: u32, e1: u32, n2: u32, e2: u32) -> Paired {
    Paired {
        n1: n1.into(),
        e1: e1.into(),
        n2: n2.into(),
        e2: e2.into(),
    }
}

fn close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got:.12}, want {want:.12}"
    );
}

/// (case, minutes, reference ln e_rel, reference ln e_abs, note's ln e_rel, note's ln e_abs, roll back)
#[allow(clippy::type_complexity)]
fn cases() -> Vec<(&'static str, Vec<Paired>, f64, f64, f64, f64, bool)> {
    vec![
        (
            "4.9 % against 0.1 %",
            vec![minute(9000, 9, 1000, 49)],
            86.289_464_387_299_39,
            140.290_973_851_181_3,
            86.2895,
            140.2910,
            true,
        ),
        (
            "shared outage at 6 %",
            vec![minute(9000, 540, 1000, 60)],
            -3.370_339_868_688_606,
            184.750_584_139_659_3,
            -3.3703,
            184.7506,
            false,
        ),
        (
            "every canary request fails",
            vec![minute(441, 0, 49, 49)],
            107.437_055_463_244,
            300.134_228_427_068_4,
            107.4371,
            300.1342,
            true,
        ),
        (
            "no errors anywhere",
            vec![minute(5400, 0, 600, 0)],
            0.0,
            -2.088_307_420_599_667,
            0.0,
            -2.0883,
            false,
        ),
        (
            "ten periods of A/A at 0.1 %",
            vec![minute(5400, 5, 600, 1); 10],
            -0.148_336_622_720_794_05,
            -0.462_189_854_040_050_8,
            -0.1483,
            -0.4622,
            false,
        ),
    ]
}

#[test]
fn the_notes_checked_values() {
    let threshold = (2.0f64 / 0.01).ln();
    close(threshold, 5.2983, 5e-5, "ln(2/α)");
    for (name, periods, rel, abs, note_rel, note_abs, roll_back) in cases() {
        let got_rel = relative(&periods, R0).ln_e;
        let (e2, n2) = periods
            .iter()
            .fold((0.0, 0.0), |(e, n), m| (e + m.e2, n + m.n2));
        let got_abs = one_sample(e2, n2, FLOOR).unwrap();
        close(got_rel, rel, 1e-9, &format!("{name}: ln e_rel"));
        close(got_abs, abs, 1e-9, &format!("{name}: ln e_abs"));
        close(got_rel, note_rel, 5e-5, &format!("{name}: note's ln e_rel"));
        close(got_abs, note_abs, 5e-5, &format!("{name}: note's ln e_abs"));
        assert_eq!(got_rel.min(got_abs) >= threshold, roll_back, "{name}");
    }
}

#[test]
fn ratio_estimate_is_the_maximiser() {
    close(
        ratio_estimate(&[minute(9000, 9, 1000, 49)]),
        49.0,
        1e-9,
        "one minute",
    );
    close(
        ratio_estimate(&[minute(900, 3, 100, 1), minute(500, 1, 500, 4)]),
        3.481430395524388,
        1e-9,
        "two periods",
    );
    assert_eq!(ratio_estimate(&[minute(441, 0, 49, 49)]), f64::INFINITY);
    assert_eq!(ratio_estimate(&[minute(441, 3, 49, 0)]), 0.0);
    assert_eq!(relative(&[minute(441, 0, 0, 0)], R0).ratio_estimate, None);
}

#[test]
fn upper_bound_of_v1s_rate() {
    close(
        rate_upper_bound(0.0, 441.0, 0.0025),
        0.017263563786269028,
        1e-9,
        "0 of 441",
    );
    close(
        rate_upper_bound(9.0, 9000.0, 0.0025),
        0.003_073_332_571_889_762,
        1e-9,
        "9 of 9000",
    );
    assert_eq!(rate_upper_bound(0.0, 0.0, 0.0025), 1.0);
    assert_eq!(rate_upper_bound(5.0, 5.0, 0.0025), 1.0);
}

#[test]
fn one_sample_edges() {
    close(
        one_sample(600.0, 600.0, 0.01).unwrap(),
        2_342.831_776_622_214,
        1e-9,
        "every request slow",
    );
    assert_eq!(one_sample(0.0, 0.0, 0.01), Some(0.0));
    assert_eq!(one_sample(3.0, 10.0, 0.46), None);
}
