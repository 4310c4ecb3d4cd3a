//! The grep function: created from the embedded zip, or brought up to date with as few calls as
//! possible — code only when the zip's SHA-256 differs, configuration only when it differs.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_lambda::Client;
use aws_sdk_lambda::client::Waiters as _;
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::operation::create_function::CreateFunctionError;
use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeError;
use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture as LambdaArch, Environment, FunctionCode, FunctionConfiguration, Runtime,
};

use super::artifact::{self, Architecture};
use super::{BUSY, Change, iam_propagation};
use crate::aws::errors::{AwsResultExt as _, error as aws_error, is_iam_propagation, wait_error};
use crate::retry::{Retry, retry};

pub const HANDLER: &str = "bootstrap";
/// Covers the function's own bounded PutRecords retries with room to spare; a stuck invocation
/// must end well before the mapping's retry budget is spent.
pub const TIMEOUT_SECONDS: i32 = 60;
const WAIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Everything the function is made of.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub role_arn: String,
    pub arch: Architecture,
    pub memory_mb: u32,
    pub env: HashMap<String, String>,
    pub tags: HashMap<String, String>,
}

/// The function's ARN and what was done to it.
#[derive(Debug, Clone)]
pub struct Ensured {
    pub arn: String,
    pub change: Change,
    pub detail: &'static str,
}

/// The function's configuration, or `None` when it does not exist.
pub async fn get(lambda: &Client, name: &str) -> Result<Option<FunctionConfiguration>> {
    let out = lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot look up function {name}"))?;
    Ok(out.and_then(|out| out.configuration))
}

fn lambda_arch(arch: Architecture) -> LambdaArch {
    LambdaArch::from(arch.lambda_name())
}

fn environment(env: &HashMap<String, String>) -> Environment {
    Environment::builder()
        .set_variables(Some(env.clone()))
        .build()
}

/// Creates or updates the function so that it matches `spec`; `role_is_fresh` allows waiting out
/// IAM propagation when the role was created or changed in this run.
pub async fn ensure(lambda: &Client, spec: &FunctionSpec, role_is_fresh: bool) -> Result<Ensured> {
    let Some(current) = get(lambda, &spec.name).await? else {
        let arn = create(lambda, spec, role_is_fresh).await?;
        return Ok(Ensured {
            arn,
            change: Change::Created,
            detail: "created",
        });
    };
    let arn = current
        .function_arn()
        .with_context(|| format!("Lambda returned no ARN for function {}", spec.name))?
        .to_owned();
    let code_differs = current.code_sha256() != Some(artifact::code_sha256(spec.arch).as_str())
        || current.architectures() != [lambda_arch(spec.arch)];
    let config_differs = config_differs(&current, spec);
    if !code_differs && !config_differs {
        return Ok(Ensured {
            arn,
            change: Change::Unchanged,
            detail: "up to date",
        });
    }
    if code_differs {
        update(
            lambda,
            &spec.name,
            false,
            |err: &SdkError<UpdateFunctionCodeError, _>| {
                err.as_service_error()
                    .is_some_and(|e| e.is_resource_conflict_exception())
            },
            |_| false,
            || format!("cannot upload the code of function {}", spec.name),
            || {
                lambda
                    .update_function_code()
                    .function_name(&spec.name)
                    .zip_file(Blob::new(artifact::zip(spec.arch)))
                    .architectures(lambda_arch(spec.arch))
                    .send()
            },
        )
        .await?;
        wait_updated(lambda, &spec.name).await?;
    }
    if config_differs {
        update_configuration(lambda, spec, role_is_fresh).await?;
        wait_updated(lambda, &spec.name).await?;
    }
    Ok(Ensured {
        arn,
        change: Change::Updated,
        detail: match (code_differs, config_differs) {
            (true, true) => "updated code and configuration",
            (true, false) => "updated code",
            _ => "updated configuration",
        },
    })
}

fn config_differs(current: &FunctionConfiguration, spec: &FunctionSpec) -> bool {
    let env = current
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    env != spec.env
        || current.memory_size() != i32::try_from(spec.memory_mb).ok()
        || current.timeout() != Some(TIMEOUT_SECONDS)
        || current.role() != Some(spec.role_arn.as_str())
        || current.handler() != Some(HANDLER)
        || current.runtime() != Some(&Runtime::Providedal2023)
}

async fn create(lambda: &Client, spec: &FunctionSpec, role_is_fresh: bool) -> Result<String> {
    // A role created moments ago may not be assumable by Lambda yet: CreateFunction then fails
    // with InvalidParameterValue until IAM catches up.
    let result = retry(
        iam_propagation(role_is_fresh),
        |err: &SdkError<CreateFunctionError, _>| is_iam_propagation(err),
        || {
            lambda
                .create_function()
                .function_name(&spec.name)
                .description("ktail grep: forwards the records that match MATCH to STREAM_NAME")
                .runtime(Runtime::Providedal2023)
                .handler(HANDLER)
                .role(&spec.role_arn)
                .architectures(lambda_arch(spec.arch))
                .memory_size(i32::try_from(spec.memory_mb).unwrap_or(128))
                .timeout(TIMEOUT_SECONDS)
                .environment(environment(&spec.env))
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(artifact::zip(spec.arch)))
                        .build(),
                )
                .set_tags(Some(spec.tags.clone()))
                .send()
        },
    )
    .await;
    let out = match result {
        Ok(out) => out,
        // Another ktail created it a moment ago; bring it up to date instead.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception()) =>
        {
            return Box::pin(ensure(lambda, spec, role_is_fresh))
                .await
                .map(|e| e.arn);
        }
        Err(err) => {
            return Err(aws_error(
                err,
                format!("cannot create function {}", spec.name),
            ));
        }
    };
    let active = lambda
        .wait_until_function_active_v2()
        .function_name(&spec.name)
        .wait(WAIT_TIMEOUT)
        .await
        .map_err(|e| wait_error(e, format!("function {} did not become active", spec.name)));
    if let Err(err) = active {
        // Ours and unusable: take it away again, so a failed step leaves nothing behind.
        let undo = delete(lambda, &spec.name).await;
        return Err(super::undone(err, &format!("function {}", spec.name), undo));
    }
    out.function_arn
        .with_context(|| format!("Lambda returned no ARN for function {}", spec.name))
}

/// Makes one update of function `name` once no other update of it is in progress: waits for the
/// function, calls, and calls again when Lambda answers that an update is in progress after all
/// (`conflict`: someone else's update landed in between; [`BUSY`] says how often) or, when
/// `role_is_fresh`, that it cannot use the role yet (`iam`: [`iam_propagation`]).
async fn update<T, E, R, Fut, W: std::fmt::Display>(
    lambda: &Client,
    name: &str,
    role_is_fresh: bool,
    conflict: impl Fn(&SdkError<E, R>) -> bool,
    iam: impl Fn(&SdkError<E, R>) -> bool,
    what: impl FnOnce() -> W,
    mut call: impl FnMut() -> Fut,
) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let mut busy = Retry::new(BUSY);
    let mut propagation = Retry::new(iam_propagation(role_is_fresh));
    loop {
        wait_updated(lambda, name).await?;
        let err = match call().await {
            Ok(out) => return Ok(out),
            Err(err) => err,
        };
        let again = if conflict(&err) {
            busy.failed()
        } else if iam(&err) {
            propagation.failed()
        } else {
            None
        };
        match again {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return Err(aws_error(err, what())),
        }
    }
}

async fn update_configuration(
    lambda: &Client,
    spec: &FunctionSpec,
    role_is_fresh: bool,
) -> Result<()> {
    update(
        lambda,
        &spec.name,
        role_is_fresh,
        |err: &SdkError<UpdateFunctionConfigurationError, _>| {
            err.as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception())
        },
        is_iam_propagation,
        || format!("cannot update the configuration of function {}", spec.name),
        || {
            lambda
                .update_function_configuration()
                .function_name(&spec.name)
                .runtime(Runtime::Providedal2023)
                .handler(HANDLER)
                .role(&spec.role_arn)
                .memory_size(i32::try_from(spec.memory_mb).unwrap_or(128))
                .timeout(TIMEOUT_SECONDS)
                .environment(environment(&spec.env))
                .send()
        },
    )
    .await?;
    Ok(())
}

async fn wait_updated(lambda: &Client, name: &str) -> Result<()> {
    lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(WAIT_TIMEOUT)
        .await
        .map_err(|e| wait_error(e, format!("function {name} did not finish updating")))?;
    Ok(())
}

/// Sets one environment variable (e.g. the TTL deadline), leaving the rest as they are.
pub async fn set_env(lambda: &Client, name: &str, key: &str, value: &str) -> Result<()> {
    let current = get(lambda, name)
        .await?
        .with_context(|| format!("function {name} no longer exists"))?;
    let mut env = current
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    if env.get(key).map(String::as_str) == Some(value) {
        return Ok(());
    }
    env.insert(key.to_owned(), value.to_owned());
    update(
        lambda,
        name,
        false,
        |err: &SdkError<UpdateFunctionConfigurationError, _>| {
            err.as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception())
        },
        |_| false,
        || format!("cannot update the configuration of function {name}"),
        || {
            lambda
                .update_function_configuration()
                .function_name(name)
                .environment(environment(&env))
                .send()
        },
    )
    .await?;
    wait_updated(lambda, name).await
}

/// Deletes the function; `false` when it was already gone.
pub async fn delete(lambda: &Client, name: &str) -> Result<bool> {
    let deleted = lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
        .not_found_as_none(|| format!("cannot delete function {name}"))?;
    Ok(deleted.is_some())
}

/// The function's tags; `None` when the function is gone (another session or a person may
/// delete it between a listing and this call).
pub async fn tags(lambda: &Client, arn: &str) -> Result<Option<HashMap<String, String>>> {
    let out = lambda
        .list_tags()
        .resource(arn)
        .send()
        .await
        .not_found_as_none(|| format!("cannot read the tags of function {arn}"))?;
    Ok(out.map(|o| o.tags.unwrap_or_default()))
}
