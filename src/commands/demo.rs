//! `ktail demo [PATTERN]` and `ktail demo --serve`: hand the configuration over to `crate::demo`,
//! which brings its own Kinesis and never loads the AWS configuration (`ctx.sdk()` is not called).
//!
//! Exit codes: 0 when `-n` or `--until` ends it; 130 after a signal (the only way `--serve`
//! ends); 2 on bad usage (from the config step); 1 when the embedded Kinesis cannot start (e.g.
//! the port is taken).

use anyhow::Result;

use crate::context::Context;
use crate::demo::{self, DemoCommand};
use crate::exit::ExitCode;

pub async fn run(ctx: &Context, command: DemoCommand) -> Result<ExitCode> {
    match command {
        DemoCommand::Run(run) => demo::run(run, ctx.progress()).await,
        DemoCommand::Serve { port } => demo::serve(port, ctx.progress()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::config::{Command, Config};
    use crate::context::Terminal;
    use crate::exit;
    use clap::Parser;

    fn demo(line: &[&str]) -> Result<DemoCommand> {
        let cli = Cli::try_parse_from(line).map_err(|e| exit::usage(e.to_string()))?;
        match Config::new(cli, Terminal::default())?.command {
            Command::Demo(demo) => Ok(demo),
            other => panic!("not demo: {other:?}"),
        }
    }

    #[test]
    fn the_defaults_agree_with_the_demo() {
        let Ok(DemoCommand::Run(run)) = demo(&["ktail", "demo", "-n", "5"]) else {
            panic!("not a run")
        };
        assert_eq!(run.pattern.text(), r#""status":5[0-9][0-9]"#);
        assert_eq!(run.max_records, Some(5));
        assert_eq!(run.print.stream, demo::SOURCE_STREAM);
        let Ok(DemoCommand::Serve { port }) = demo(&["ktail", "demo", "--serve"]) else {
            panic!("not serve")
        };
        assert_eq!(port, demo::DEFAULT_PORT);
        let Ok(DemoCommand::Serve { port }) = demo(&["ktail", "demo", "--serve", "--port", "4000"])
        else {
            panic!("not serve")
        };
        assert_eq!(port, 4000);
    }

    #[test]
    fn usage_errors() {
        for line in [
            &["ktail", "demo", "(unclosed"][..],
            &["ktail", "--region", "eu-west-1", "demo"],
            &["ktail", "--endpoint-url", "http://127.0.0.1:1", "demo"],
            // --serve only serves; --port only with --serve.
            &["ktail", "demo", "--serve", "-n", "3"],
            &["ktail", "demo", "--serve", "ERROR"],
            &["ktail", "demo", "--serve", "-o", "json"],
            &["ktail", "demo", "--port", "4000"],
        ] {
            let err = demo(line).map(|_| ()).unwrap_err();
            assert_eq!(
                exit::code_for(&err),
                Some(ExitCode::Usage),
                "{line:?}: {err}"
            );
        }
    }
}
