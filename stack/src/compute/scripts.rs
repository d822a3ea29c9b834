//! The instances' user data: shell scripts in `user-data/` (the signed fetch, the fetch of a
//! fleet's version, the target signal's proxy in front of the service, the VMs' and the Docker
//! host's setup), rendered from typed values. The scripts are `Fn::Sub` templates: `${Name}`
//! is CloudFormation's, `{{name}}` ours.

use crate::cfn::resources::TargetGroup;
use crate::cfn::{Handle, sub_literal};
use contract::release::Fleet;

use super::{SIGNAL_UNIT, SYSTEMD_UNIT};

/// `fetch_artifact KEY DEST`: one object of the artifact bucket to DEST, with nothing installed:
/// curl signs the GET (SigV4) with the instance role's credentials from IMDSv2, and the request
/// reaches S3 through the gateway endpoint, so no internet path is needed. It fails (DEST left
/// untouched) when the object is missing or any step fails; callers retry. It reads
/// `ARTIFACT_BUCKET`, `ARTIFACT_REGION` and `S3_ENDPOINT` (set by the script's header) and
/// `IMDS_ENDPOINT` (default: the instance metadata service). Both endpoints can be given in the
/// environment, which user data on EC2 never has: the boot rehearsal points them at its emulator.
pub const FETCH_FUNCTION: &str = include_str!("user-data/fetch-function.sh");

/// What every instance does first: define the fetch, read the version its fleet runs (the pointer
/// `cargo xtask release` and the controller write), fetch that version's binary and checksum, and
/// verify the binary before anything starts it. Each fetch retries until its object exists.
pub(super) fn fetch_script(fleet: Fleet) -> String {
    render(
        include_str!("user-data/fetch.sh"),
        &[
            ("function", &sub_literal(FETCH_FUNCTION)),
            ("fleet", fleet.as_str()),
            (
                "max_rest",
                &(contract::release::MAX_VERSION_LEN - 1).to_string(),
            ),
            ("signal", contract::release::SIGNAL_BINARY),
        ],
    )
}

/// With `TargetSignal=enabled`: `alb-canary-signal` on `listen_port` (the port the ALB reaches)
/// in front of the service, which then listens on loopback only; the proxy publishes under the
/// ALB's own dimensions of this instance's target group.
pub(super) fn signal_script(
    listen_port: u16,
    target_group: &Handle<TargetGroup>,
    alb_id: &str,
) -> String {
    render(
        include_str!("user-data/signal.sh"),
        &[
            ("listen_port", &listen_port.to_string()),
            (
                "upstream",
                &crate::target_signal::SERVICE_BEHIND_PROXY_PORT.to_string(),
            ),
            ("alb_id", alb_id),
            ("target_group", target_group.id()),
            ("signal", contract::release::SIGNAL_BINARY),
            ("unit", &sub_literal(SIGNAL_UNIT)),
        ],
    )
}

/// The unit's own `ExecStart=`, with the service on loopback behind the proxy.
pub(super) fn exec_start_behind_proxy() -> String {
    let line = SYSTEMD_UNIT
        .lines()
        .find(|line| line.starts_with("ExecStart="))
        .expect("the recommender's unit has an ExecStart=");
    let public = format!("--port {}", crate::security::APP_PORT);
    assert!(
        line.ends_with(&public),
        "the unit's ExecStart= ends with {public}: {line}"
    );
    line.replace(
        &public,
        &format!(
            "--host 127.0.0.1 --port {}",
            crate::target_signal::SERVICE_BEHIND_PROXY_PORT
        ),
    )
}

/// `script` with each `{{name}}` marker replaced by its value. Every marker needs a value and
/// every value a marker, so a script and the code that renders it cannot drift apart unnoticed
/// (synth, and so every test that builds the template, stops on the first mismatch).
pub(super) fn render(script: &str, values: &[(&str, &str)]) -> String {
    let mut used = vec![false; values.len()];
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(mut start) = rest.find("{{") {
        // `${{{name}}.Attribute}`: CloudFormation's brace, then the marker.
        while rest[start + 2..].starts_with('{') {
            start += 1;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("user data: an unclosed {{{{ marker"));
        let name = &after[..end];
        let position = values
            .iter()
            .position(|(known, _)| *known == name)
            .unwrap_or_else(|| panic!("user data: no value for the marker {{{{{name}}}}}"));
        used[position] = true;
        out.push_str(values[position].1);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    for ((name, _), used) in values.iter().zip(used) {
        assert!(
            used,
            "user data: the value {name} has no {{{{{name}}}}} marker"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn every_marker_gets_its_value_and_every_value_a_marker() {
        let script = "a={{a}} b=${Ref} unit=x@{{a}}.service ${{{a}}.Arn}\n";
        assert_eq!(
            render(script, &[("a", "1")]),
            "a=1 b=${Ref} unit=x@1.service ${1.Arn}\n"
        );
    }

    #[test]
    #[should_panic(expected = "no value for the marker {{b}}")]
    fn a_marker_without_a_value_stops_the_synth() {
        render("{{a}} {{b}}", &[("a", "1")]);
    }

    #[test]
    #[should_panic(expected = "the value c has no {{c}} marker")]
    fn a_value_without_a_marker_stops_the_synth() {
        render("{{a}}", &[("a", "1"), ("c", "3")]);
    }

    #[test]
    #[should_panic(expected = "an unclosed {{ marker")]
    fn an_unclosed_marker_stops_the_synth() {
        render("{{a}} {{b", &[("a", "1"), ("b", "2")]);
    }
}
