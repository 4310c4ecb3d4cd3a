//! The grep function as the demo runs it: the library's `function` core — the same code the
//! Lambda bootstrap runs — in this process, configured from the environment `ktail attach` gives
//! the deployed function (per `contract::env`), invoked by the local poller with the
//! `KinesisEvent` Lambda would send, answering with the `KinesisEventResponse` (batch item
//! failures) Lambda would get.
//!
//! This file is the one seam between the demo and the function: the poller knows only
//! [`Function::new`] and [`Function::invoke`].

use std::collections::HashMap;
use std::time::SystemTime;

use anyhow::{Result, anyhow};
use aws_config::SdkConfig;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;

use crate::contract::env;
use crate::filter::MatchOptions;
use crate::function::{Config, Handler};

/// The function's environment for a pattern, as `ktail attach` sets it (no deadline: nothing
/// outlives the demo, so there is no dead client to guard against).
pub fn environment(
    pattern: &str,
    options: MatchOptions,
    filtered_stream: &str,
) -> HashMap<String, String> {
    let mut vars = HashMap::from([
        (env::MATCH.to_owned(), pattern.to_owned()),
        (env::STREAM_NAME.to_owned(), filtered_stream.to_owned()),
    ]);
    if options.invert {
        vars.insert(env::MATCH_INVERT.to_owned(), env::TRUE.to_owned());
    }
    if options.ignore_case {
        vars.insert(env::MATCH_IGNORE_CASE.to_owned(), env::TRUE.to_owned());
    }
    vars
}

/// One warm execution environment of the grep function.
pub struct Function {
    handler: Handler,
}

impl Function {
    /// Initialises the function as its bootstrap does at init: [`Config`] from `vars` (instead
    /// of the process environment), clients from `sdk` (the embedded Kinesis; the Lambda client
    /// is only used past a deadline, which the demo never sets).
    pub fn new(sdk: &SdkConfig, vars: &HashMap<String, String>) -> Result<Function> {
        let config = Config::from_lookup(|name| vars.get(name).cloned())
            .map_err(|e| anyhow!("the grep function's configuration: {e}"))?;
        let handler = Handler::new(
            config,
            aws_sdk_kinesis::Client::new(sdk),
            aws_sdk_lambda::Client::new(sdk),
        );
        Ok(Function { handler })
    }

    /// One invocation. Calls [`Handler::process`], not `handle`: `handle` only adds the deadline
    /// check (no deadline here) and the report as a JSON line on stdout, which is the function's
    /// log in Lambda but the user's matches here; the report goes to `--debug` instead.
    pub async fn invoke(&self, event: KinesisEvent, deadline: SystemTime) -> KinesisEventResponse {
        let (response, report) = self.handler.process(event, deadline).await;
        tracing::debug!(?report, "grep function invoked");
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_configures_the_function_as_attach_does() {
        let options = MatchOptions {
            invert: true,
            ignore_case: true,
        };
        let vars = environment("err", options, "ktail-access-logs-1");
        let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(config.output.name(), "ktail-access-logs-1");
        assert!(config.expires_at.is_none());
        // -v -i: forwards what does not match "err" in any case.
        assert!(!config.matcher.is_match(b"an ERR"));
        assert!(config.matcher.is_match(b"fine"));
        let plain = environment("err", MatchOptions::default(), "out");
        assert_eq!(plain.len(), 2);
    }
}
