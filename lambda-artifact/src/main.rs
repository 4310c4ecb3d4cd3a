//! The `bootstrap` of the grep Lambda (runtime `provided.al2023`): builds the [`Handler`] once at
//! init and serves Kinesis batches through `lambda_runtime`.

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use ktail::function::aws_env::AwsEnv;
use ktail::function::{Config, Handler};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            // Init fails with this one line in the function's log.
            eprintln!("ktail-grep: invalid configuration: {err}");
            return ExitCode::FAILURE;
        }
    };
    let aws = match AwsEnv::from_env() {
        Ok(aws) => aws,
        Err(err) => {
            eprintln!("ktail-grep: {err}");
            return ExitCode::FAILURE;
        }
    };
    let handler = Arc::new(Handler::new(config, aws.kinesis(), aws.lambda()));
    let result = lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| {
        let handler = Arc::clone(&handler);
        async move {
            let deadline = event.context.deadline();
            Ok::<KinesisEventResponse, Error>(handler.handle(event.payload, deadline).await)
        }
    }))
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ktail-grep: {err}");
            ExitCode::FAILURE
        }
    }
}
