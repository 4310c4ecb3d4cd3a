//! The one `SdkConfig` of a run, built from the global [`AwsOptions`] and the environment the way
//! the AWS CLI does, and the clients made from it.

use std::ffi::OsString;

pub mod errors;

use anyhow::Result;
use aws_config::{BehaviorVersion, Region, SdkConfig};

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
    aws_sdk_kinesis::Client::new(config)
}

pub fn lambda(config: &SdkConfig) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(config)
}

pub fn iam(config: &SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(config)
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
