//! The `ktail` binary: parse, resolve, run, map the outcome to an exit code. Everything else is in
//! the library.

use std::io::Write;

use clap::Parser;
use ktail::cli::Cli;
use ktail::config::Config;
use ktail::context::Terminal;
use ktail::exit::{self, ExitCode};

fn main() -> std::process::ExitCode {
    // An empty endpoint variable means unset, as in the AWS CLI (the SDK would panic on it).
    for name in ktail::aws::empty_endpoint_variables(std::env::vars_os()) {
        // SAFETY: no other thread exists yet; the runtimes (completion's too) start below.
        unsafe { std::env::remove_var(name) };
    }
    ktail::commands::completions::complete_from_env();
    let cli = Cli::parse();
    match Config::new(cli, Terminal::detect()).and_then(run) {
        Ok(code) => code.into(),
        Err(err) => match exit::code_for(&err) {
            None => ExitCode::Success.into(),
            Some(code) => {
                let _ = writeln!(std::io::stderr(), "ktail: {err:#}");
                code.into()
            }
        },
    }
}

fn run(config: Config) -> anyhow::Result<ExitCode> {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("ktail: cannot start the async runtime: {err}");
            return Ok(ExitCode::Failure);
        }
    };
    let outcome = runtime.block_on(ktail::commands::run(config));
    // Readers may still be blocked in network calls; don't wait for them once the answer is known.
    runtime.shutdown_background();
    outcome
}
