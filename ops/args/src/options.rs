//! Each command's options, as clap checks them.

use std::path::PathBuf;

use contract::release::{DEFAULT_ARTIFACT_PREFIX, validate_version};

/// The stack `sam deploy` creates by default (samconfig.toml).
pub const DEFAULT_STACK: &str = "alb-canary";

/// Where the canary is: options shared by every operator command.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct Options {
    /// The stack whose output names the controller function
    #[arg(long, value_name = "NAME", default_value = DEFAULT_STACK)]
    pub stack: String,
    /// The controller function itself (instead of looking it up in --stack)
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Send every AWS call to this endpoint (e.g. the local emulator); AWS_ENDPOINT_URL works too
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// Where versions are published: `canaryctl publish`'s and `cargo xtask publish`'s options, defined
/// once.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct ArtifactStore {
    /// The artifact bucket (the stack's `ArtifactBucketName` output)
    #[arg(long, value_name = "B", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub bucket: String,
    /// The key prefix; the stack's instances read `artifacts` unless its `ArtifactPrefix` says otherwise
    #[arg(long, value_name = "P", default_value = DEFAULT_ARTIFACT_PREFIX)]
    pub prefix: String,
    /// Send the S3 calls to this endpoint (e.g. the local emulator); AWS_ENDPOINT_URL works too
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl ArtifactStore {
    /// The prefix without the slashes around it, so `/releases/` and `releases` agree.
    pub fn prefix(&self) -> &str {
        self.prefix.trim_matches('/')
    }
}

/// `publish`'s options.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub store: ArtifactStore,
    /// The version to publish the binary as; a published version is immutable
    #[arg(long, value_name = "V", value_parser = version_arg)]
    pub version: String,
    /// The static recommender binary (`cargo xtask build-static` prints its path)
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// The static alb-canary-signal binary, published beside it as the same version (instances
    /// run it when the stack's TargetSignal is enabled)
    #[arg(long, value_name = "PATH")]
    pub signal_file: Option<PathBuf>,
}

/// `release`'s options.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct ReleaseArgs {
    /// The published version to release (see `publish`)
    #[arg(value_parser = version_arg)]
    pub version: String,
    /// Abort a release still in progress (its canary rolls back) and start this one
    #[arg(long)]
    pub force: bool,
    /// Publish this binary as VERSION first (unchanged if it already is, refused if VERSION holds
    /// another binary)
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// With --file: publish this alb-canary-signal binary beside it
    #[arg(long, value_name = "PATH", requires = "file")]
    pub signal_file: Option<PathBuf>,
    #[command(flatten)]
    pub target: Options,
}

/// `history`'s options.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct HistoryArgs {
    /// Only this release: its records and the decisions taken while it ran
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    #[command(flatten)]
    pub target: Options,
}

/// A version as clap checks it: the rules of [`validate_version`].
pub fn version_arg(version: &str) -> Result<String, String> {
    validate_version(version).map(|()| version.to_owned())
}
