//! Releases: what a version may be called, and where its artifacts and the fleets' pointers live
//! in the artifact bucket. `cargo xtask publish` writes the artifacts, the controller and
//! `cargo xtask release` write the pointers, and the instances' boot script reads both.

/// Where instances read the artifacts unless the stack's `ArtifactPrefix` says otherwise, and
/// where `publish` writes them unless told otherwise.
pub const DEFAULT_ARTIFACT_PREFIX: &str = "artifacts";
/// The binary's object name under `<prefix>/<version>/`.
pub const BINARY: &str = "recommender";
/// Its checksum under `<prefix>/<version>/`, in `sha256sum` format (`<hex>  recommender`), so the
/// instance verifies it with `sha256sum -c`. Written last: a version is published once it exists.
pub const CHECKSUM: &str = "recommender.sha256";
/// The target signal's binary under `<prefix>/<version>/`, published with each version and run in
/// front of the service when the stack's `TargetSignal` is enabled; its checksum is
/// `alb-canary-signal.sha256`, written before the recommender's.
pub const SIGNAL_BINARY: &str = "alb-canary-signal";
/// The folder under `<prefix>/` holding one pointer object per fleet: its body is the version.
pub const FLEETS: &str = "fleets";
/// Longest accepted version string.
pub const MAX_VERSION_LEN: usize = 64;

/// The two fleets a release moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fleet {
    /// The stable version's Auto Scaling group: serves the traffic outside a canary.
    Stable,
    /// The canary's instances (`vm`) or the Docker host (`docker`): the canary.
    Canary,
}

impl Fleet {
    pub fn as_str(self) -> &'static str {
        match self {
            Fleet::Stable => "stable",
            Fleet::Canary => "canary",
        }
    }
}

/// A version is a key segment: letters, digits, `.`, `_`, `+`, `-`, starting with a letter or digit,
/// never `..`. Anything else (a slash, a space, a backslash) could name another object.
pub fn validate_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("the version is empty".into());
    }
    if version.len() > MAX_VERSION_LEN {
        return Err(format!(
            "version `{version}` is longer than {MAX_VERSION_LEN} characters"
        ));
    }
    if let Some(bad) = version
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
    {
        return Err(format!(
            "version `{version}` contains `{bad}`: only letters, digits, `.`, `_`, `+` and `-` are allowed"
        ));
    }
    if !version.starts_with(|c: char| c.is_ascii_alphanumeric()) || version.contains("..") {
        return Err(format!(
            "version `{version}` must start with a letter or digit and contain no `..`"
        ));
    }
    Ok(())
}

fn join(prefix: &str, rest: &str) -> String {
    match prefix.trim_matches('/') {
        "" => rest.to_string(),
        prefix => format!("{prefix}/{rest}"),
    }
}

/// One binary of a version: each is published with a `sha256sum` checksum beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    Recommender,
    Signal,
}

impl Artifact {
    /// Publishing order: the recommender's checksum last, since it marks the version published.
    pub const ALL: [Artifact; 2] = [Artifact::Signal, Artifact::Recommender];

    pub fn name(self) -> &'static str {
        match self {
            Artifact::Recommender => BINARY,
            Artifact::Signal => SIGNAL_BINARY,
        }
    }

    /// `<prefix>/<version>/<name>`.
    pub fn key(self, prefix: &str, version: &str) -> String {
        join(prefix, &format!("{version}/{}", self.name()))
    }

    /// `<prefix>/<version>/<name>.sha256`.
    pub fn checksum_key(self, prefix: &str, version: &str) -> String {
        join(prefix, &format!("{version}/{}.sha256", self.name()))
    }

    /// The checksum object's body for this binary whose SHA-256 is `hex`.
    pub fn checksum_body(self, hex: &str) -> String {
        format!("{hex}  {}\n", self.name())
    }

    /// The hex digest in this binary's checksum body, if it is one.
    pub fn parse_checksum(self, body: &str) -> Option<&str> {
        let (hex, name) = body.trim_end().split_once("  ")?;
        (name == self.name() && hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
            .then_some(hex)
    }
}

/// `<prefix>/<version>/recommender`.
pub fn binary_key(prefix: &str, version: &str) -> String {
    Artifact::Recommender.key(prefix, version)
}

/// `<prefix>/<version>/recommender.sha256`.
pub fn checksum_key(prefix: &str, version: &str) -> String {
    Artifact::Recommender.checksum_key(prefix, version)
}

/// `<prefix>/fleets/<stable|canary>`: the version that fleet's instances fetch when they boot.
pub fn fleet_key(prefix: &str, fleet: Fleet) -> String {
    join(prefix, &format!("{FLEETS}/{}", fleet.as_str()))
}

/// The checksum object's body for a binary whose SHA-256 is `hex`.
pub fn checksum_body(hex: &str) -> String {
    Artifact::Recommender.checksum_body(hex)
}

/// The hex digest in a checksum object's body, if it is one.
pub fn parse_checksum(body: &str) -> Option<&str> {
    Artifact::Recommender.parse_checksum(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_with_path_characters_are_refused_by_name() {
        for good in ["1.1.0", "2.0.0-rc.1", "1.0.0+build.7", "v3_a"] {
            validate_version(good).unwrap();
        }
        for (bad, needle) in [
            ("", "empty"),
            ("1.0/../x", "`/`"),
            ("..", "`..`"),
            ("1..2", "`..`"),
            ("a\\b", "`\\`"),
            ("1 0", "` `"),
            ("-1", "start with"),
            (".hidden", "start with"),
        ] {
            let err = validate_version(bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
        assert!(validate_version(&"1".repeat(65)).is_err());
    }

    #[test]
    fn keys_sit_under_the_prefix() {
        assert_eq!(
            binary_key("artifacts", "1.1.0"),
            "artifacts/1.1.0/recommender"
        );
        assert_eq!(
            checksum_key("/a/b/", "1.1.0"),
            "a/b/1.1.0/recommender.sha256"
        );
        assert_eq!(fleet_key("", Fleet::Canary), "fleets/canary");
        assert_eq!(
            fleet_key("artifacts", Fleet::Stable),
            "artifacts/fleets/stable"
        );
    }

    #[test]
    fn checksum_bodies_round_trip_in_sha256sum_format() {
        let hex = "ab".repeat(32);
        let body = checksum_body(&hex);
        assert_eq!(body, format!("{hex}  recommender\n"));
        assert_eq!(parse_checksum(&body), Some(hex.as_str()));
        assert_eq!(parse_checksum("abc  recommender"), None);
        assert_eq!(parse_checksum(&format!("{hex}  other")), None);
    }

    #[test]
    fn the_signal_is_published_beside_the_recommender_under_its_own_name() {
        let hex = "cd".repeat(32);
        let signal = Artifact::Signal;
        assert_eq!(
            signal.key("artifacts", "1.1.0"),
            "artifacts/1.1.0/alb-canary-signal"
        );
        assert_eq!(
            signal.checksum_key("artifacts", "1.1.0"),
            "artifacts/1.1.0/alb-canary-signal.sha256"
        );
        let body = signal.checksum_body(&hex);
        assert_eq!(signal.parse_checksum(&body), Some(hex.as_str()));
        // One binary's checksum never verifies the other.
        assert_eq!(Artifact::Recommender.parse_checksum(&body), None);
        assert_eq!(
            Artifact::ALL.last(),
            Some(&Artifact::Recommender),
            "the recommender's checksum marks a version published: it is written last"
        );
    }
}
