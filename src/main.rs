//! The `ktail` binary: parse, run, map the outcome to an exit code. Everything else is in the library.

use std::io::Write;

use clap::Parser;
use ktail::cli::Cli;
use ktail::exit::{self, ExitCode};

fn main() -> std::process::ExitCode {
    ktail::commands::completions::complete_from_env();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("ktail: cannot start the async runtime: {err}");
            return ExitCode::Failure.into();
        }
    };
    let outcome = runtime.block_on(ktail::commands::run(cli));
    // Readers may still be blocked in network calls; don't wait for them once the answer is known.
    runtime.shutdown_background();
    match outcome {
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
