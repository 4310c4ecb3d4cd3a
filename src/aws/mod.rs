//! The one `SdkConfig` of a run, built from the global flags and the environment the way the AWS
//! CLI does, and the clients made from it.

use anyhow::Result;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::cli::GlobalArgs;
use crate::exit::usage;

/// Loads the configuration: flags first, then `AWS_PROFILE`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
/// `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>` (read by aws-config itself).
pub async fn load(global: &GlobalArgs) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &global.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &global.endpoint_url {
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
