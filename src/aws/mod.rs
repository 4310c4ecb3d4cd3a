//! The one `SdkConfig` of a run, built from the global [`AwsOptions`] and the environment the way
//! the AWS CLI does, and the clients made from it.

use std::ffi::OsString;

pub mod errors;

use anyhow::Result;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::exit::usage;

/// The global AWS options (`--profile`, `--region`, `--endpoint-url`); each unset one falls back
/// to the environment and then to the profile, as in the AWS CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Loads the configuration: options first, then `AWS_PROFILE`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
/// `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>` (read by aws-config itself).
pub async fn load(options: &AwsOptions) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let selected = options
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    if let Some(profile) = selected.filter(|p| p != "default") {
        check_profile_exists(&profile)?;
    }
    let config = loader.load().await;
    match config.region() {
        None => Err(usage(
            "no AWS region is set: pass --region, set AWS_REGION, or add one to your profile",
        )),
        // `--region` was checked when parsed; this one came from the environment or the profile.
        Some(region) if !is_region_name(region.as_ref()) => Err(usage(format!(
            "the AWS region {:?} (from AWS_REGION, AWS_DEFAULT_REGION or the profile) is not a \
             region name; set one such as us-east-1, or pass --region",
            region.as_ref()
        ))),
        Some(_) => Ok(config),
    }
}

/// A named profile that is in neither the config file nor the credentials file is an error of its
/// own: the SDK's chain would skip it and report whatever its last provider (instance metadata)
/// said. The files are where aws-config reads them (`AWS_CONFIG_FILE`, else `~/.aws/config`, with
/// `[profile NAME]` sections; `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`, with
/// `[NAME]` sections).
fn check_profile_exists(profile: &str) -> Result<()> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |variable: &str, default: &str| {
        std::env::var_os(variable)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    let config = file("AWS_CONFIG_FILE", ".aws/config");
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let has_section = |path: &Option<std::path::PathBuf>, config_file: bool| {
        let Some(text) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) else {
            return false;
        };
        text.lines().any(|line| {
            let Some(section) = line
                .trim()
                .strip_prefix('[')
                .and_then(|l| l.split(']').next())
            else {
                return false;
            };
            let section = section.trim();
            if config_file {
                section.strip_prefix("profile").is_some_and(|name| {
                    name.starts_with(char::is_whitespace) && name.trim() == profile
                })
            } else {
                section == profile
            }
        })
    };
    if has_section(&config, true) || has_section(&credentials, false) {
        return Ok(());
    }
    let shown = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "(no HOME)".to_owned(), |p| p.display().to_string())
    };
    Err(anyhow::Error::new(crate::exit::Coded(
        crate::exit::ExitCode::Credentials,
        format!(
            "the AWS profile {profile:?} (from --profile or AWS_PROFILE) is not in {} or {}: \
             create it with `aws configure --profile {profile}` or `aws configure sso`, or pick \
             another profile",
            shown(&config),
            shown(&credentials)
        ),
    )))
}

/// Whether `s` is a region name as the SDK checks it: labels of 1 to 63 letters, digits or `-`,
/// not starting with `-`, separated by dots.
pub fn is_region_name(s: &str) -> bool {
    s.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// The endpoint variables among `vars` (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) that are
/// set but empty. The AWS CLI treats such a variable as unset; the SDK would build an empty
/// endpoint from it and panic, so `main` removes them before anything reads the environment.
pub fn empty_endpoint_variables(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Vec<OsString> {
    vars.into_iter()
        .filter(|(name, value)| {
            value.is_empty()
                && name.to_str().is_some_and(|name| {
                    name == "AWS_ENDPOINT_URL" || name.starts_with("AWS_ENDPOINT_URL_")
                })
        })
        .map(|(name, _)| name)
        .collect()
}

pub fn kinesis(config: &SdkConfig) -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::config::Builder::from(config)
            .interceptor(NameTheEndpoint)
            .build(),
    )
}

pub fn lambda(config: &SdkConfig) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(config)
            .interceptor(NameTheEndpoint)
            .build(),
    )
}

pub fn iam(config: &SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(config)
            .interceptor(NameTheEndpoint)
            .build(),
    )
}

/// Puts the endpoint into the error of a call that could not reach it (no network, a DNS
/// failure, nothing listening), which the SDK's connector error does not name: the request's
/// endpoint is noted before it is sent, and a connection failure becomes an
/// [`errors::Unreachable`] naming it.
#[derive(Debug)]
pub struct NameTheEndpoint;

#[derive(Debug, Clone)]
struct Endpoint(String);

impl Storable for Endpoint {
    type Storer = StoreReplace<Self>;
}

impl Intercept for NameTheEndpoint {
    fn name(&self) -> &'static str {
        "ktail::NameTheEndpoint"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = context.request().uri();
        let endpoint = match uri.split_once("://") {
            Some((scheme, rest)) => {
                format!(
                    "{scheme}://{}",
                    rest.split(['/', '?']).next().unwrap_or(rest)
                )
            }
            None => uri.to_owned(),
        };
        cfg.interceptor_state().store_put(Endpoint(endpoint));
        Ok(())
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Endpoint(endpoint)) = cfg.load::<Endpoint>().cloned() else {
            return Ok(());
        };
        if let Some(Err(err)) = context.output_or_error_mut()
            && let Some(connector) = err.as_connector_error()
            && (connector.is_io() || connector.is_timeout())
        {
            let cause = errors::causes(connector);
            *err =
                OrchestratorError::connector(ConnectorError::io(Box::new(errors::Unreachable {
                    endpoint,
                    cause,
                })));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_endpoint_variables_are_found_and_only_those() {
        let vars = [
            ("AWS_ENDPOINT_URL", ""),
            ("AWS_ENDPOINT_URL_KINESIS", ""),
            ("AWS_ENDPOINT_URL_LAMBDA", "http://localhost:1"),
            ("AWS_ENDPOINT_URL_IAM", ""),
            ("AWS_REGION", ""),
            ("AWS_ENDPOINT_URLS", "x"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        assert_eq!(
            empty_endpoint_variables(vars),
            [
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_KINESIS",
                "AWS_ENDPOINT_URL_IAM"
            ]
        );
    }

    #[test]
    fn region_names() {
        assert!(is_region_name("us-east-1") && is_region_name("a.b"));
        assert!(!is_region_name("") && !is_region_name("us east") && !is_region_name("-a"));
    }
}
