//! The one `SdkConfig` of a run, built from clap-free [`AwsOptions`] and the environment the way
//! the AWS CLI does, and the clients made from it.

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
    if config.region().is_none() {
        return Err(usage(
            "no AWS region is set: pass --region, set AWS_REGION, or add one to your profile",
        ));
    }
    Ok(config)
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
