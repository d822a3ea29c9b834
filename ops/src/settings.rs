//! Where the operator commands find the canary: the deployed controller function's own
//! configuration, so that `status` and friends act on exactly what the functions act on.
//!
//! `--function NAME` names the function; otherwise `--stack NAME` (default `alb-canary`) looks it
//! up in the stack's outputs. `--endpoint-url URL` (or `AWS_ENDPOINT_URL`) points every client at
//! another endpoint, such as the local emulator.

use controller::{Clients, Config};

use crate::aws_error::describe;

pub use canaryctl_args::{DEFAULT_STACK, Options};

/// The stack output that names the function whose environment holds the configuration.
const FUNCTION_OUTPUT: &str = "RollbackFunctionName";

pub struct Target {
    pub clients: Clients,
    pub config: Config,
}

async fn sdk_config(options: &Options) -> aws_config::SdkConfig {
    // The functions' retry and timeout settings: an operator's command rides out the same
    // throttling, and fails as fast, as the function would.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(controller::clients::retry_config())
        .timeout_config(controller::clients::timeout_config());
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Clients and the controller's configuration, read from the function `options` name.
pub async fn resolve(options: &Options) -> crate::Result<Target> {
    let sdk = sdk_config(options).await;
    let function = match &options.function {
        Some(name) => name.clone(),
        None => function_from_stack(&sdk, &options.stack).await?,
    };
    target_of(
        &aws_sdk_lambda::Client::new(&sdk),
        &function,
        Clients::new(&sdk),
    )
    .await
}

/// The controller's configuration, read from `function`'s environment, with `clients`.
pub async fn target_of(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    clients: Clients,
) -> crate::Result<Target> {
    {
        let out = lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|err| describe(err).context(format!("could not read function {function}")))?;
        let variables = out
            .environment()
            .and_then(|env| env.variables())
            .cloned()
            .unwrap_or_default();
        let config = Config::from_lookup(|name| variables.get(name).cloned())
            .map_err(|err| format!("function {function} is not a canary controller: {err}"))?;
        Ok(Target { clients, config })
    }
}

async fn function_from_stack(sdk: &aws_config::SdkConfig, stack: &str) -> crate::Result<String> {
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let out = cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|err| {
            describe(err).context(format!(
                "could not read stack {stack} (deployed with `sam deploy`? else pass --function)"
            ))
        })?;
    out.stacks()
        .first()
        .into_iter()
        .flat_map(|s| s.outputs())
        .find(|o| o.output_key() == Some(FUNCTION_OUTPUT))
        .and_then(|o| o.output_value())
        .map(str::to_owned)
        .ok_or_else(|| format!("stack {stack} has no output {FUNCTION_OUTPUT}").into())
}
