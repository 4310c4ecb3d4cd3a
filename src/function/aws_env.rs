//! AWS clients from the Lambda environment. The function reads the few variables Lambda sets
//! (region, the execution role's credentials) itself instead of linking `aws-config`, whose
//! credential chain (SSO, STS, profiles, IMDS) the function never needs: that keeps the zip small.

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};

/// What the SDK clients need, read once at init.
#[derive(Debug, Clone)]
pub struct AwsEnv {
    region: Region,
    credentials: Credentials,
    kinesis_endpoint: Option<String>,
    lambda_endpoint: Option<String>,
}

impl AwsEnv {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let region = lookup("AWS_REGION")
            .or_else(|| lookup("AWS_DEFAULT_REGION"))
            .ok_or("AWS_REGION is not set (Lambda always sets it)")?;
        let key = lookup("AWS_ACCESS_KEY_ID")
            .ok_or("AWS_ACCESS_KEY_ID is not set (Lambda always sets it)")?;
        let secret = lookup("AWS_SECRET_ACCESS_KEY")
            .ok_or("AWS_SECRET_ACCESS_KEY is not set (Lambda always sets it)")?;
        let endpoint = lookup("AWS_ENDPOINT_URL");
        Ok(AwsEnv {
            region: Region::new(region),
            credentials: Credentials::new(
                key,
                secret,
                lookup("AWS_SESSION_TOKEN"),
                None,
                "lambda-environment",
            ),
            kinesis_endpoint: lookup("AWS_ENDPOINT_URL_KINESIS").or_else(|| endpoint.clone()),
            lambda_endpoint: lookup("AWS_ENDPOINT_URL_LAMBDA").or(endpoint),
        })
    }

    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        let mut config = aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone());
        if let Some(url) = &self.kinesis_endpoint {
            config = config.endpoint_url(url);
        }
        aws_sdk_kinesis::Client::from_conf(config.build())
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        let mut config = aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone());
        if let Some(url) = &self.lambda_endpoint {
            config = config.endpoint_url(url);
        }
        aws_sdk_lambda::Client::from_conf(config.build())
    }
}
