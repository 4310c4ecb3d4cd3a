//! `ktail attach`: deploy the grep function and wire it; prints the output stream's name.

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::cli::{Arch, AttachArgs, DeployArgs, PatternArgs, ReportFormat, StartArgs};
use crate::context::Context;
use crate::exit::ExitCode;
use crate::filter::MatchOptions;
use crate::lambda::{
    self, Architecture, AttachPlan, Capacity, Clients, DeployOptions, StartPosition,
};
use crate::picker;
use crate::progress::Progress;

pub async fn run(ctx: &Context, args: AttachArgs) -> Result<ExitCode> {
    let options = match_options(&args.pattern_args);
    let stream = picker::resolve_stream(ctx, args.stream).await?;
    let pattern = picker::resolve_pattern(args.pattern, options)?;
    let plan = plan(
        stream,
        pattern,
        &args.pattern_args,
        &args.start,
        &args.deploy,
    );
    plan.validate()?;

    let clients = Clients::new(ctx.sdk().await?);
    let progress = Progress::detect(&ctx.global);
    let attachment = lambda::attach(&clients, &plan, &progress).await?;

    let mut stdout = std::io::stdout().lock();
    match args.format {
        ReportFormat::Text => writeln!(stdout, "{}", attachment.output_stream),
        ReportFormat::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&attachment).context("encoding the report")?
        ),
    }
    .context("writing to stdout")?;
    progress.note(if attachment.changed() {
        format!(
            "attached; tail it with `ktail tail {}`, remove it with `ktail detach {} <PATTERN>`",
            attachment.output_stream, attachment.source_stream
        )
    } else {
        "already attached: nothing changed".to_owned()
    });
    Ok(ExitCode::Success)
}

fn match_options(args: &PatternArgs) -> MatchOptions {
    MatchOptions {
        invert: args.invert_match,
        ignore_case: args.ignore_case,
    }
}

/// Resolves the pattern, start and deploy flags shared by `attach` and `grep` into a plan.
pub fn plan(
    stream: String,
    pattern: String,
    pattern_args: &PatternArgs,
    start: &StartArgs,
    deploy: &DeployArgs,
) -> AttachPlan {
    AttachPlan {
        source: stream,
        pattern,
        options: match_options(pattern_args),
        start: match (start.since, start.oldest) {
            (Some(t), _) => StartPosition::AtTimestamp(t),
            (None, true) => StartPosition::TrimHorizon,
            (None, false) => StartPosition::Latest,
        },
        deploy: DeployOptions {
            role: deploy.role.clone(),
            arch: match deploy.arch {
                Arch::Arm64 => Architecture::Arm64,
                Arch::X86_64 => Architecture::X86_64,
            },
            memory_mb: deploy.memory,
            parallel: deploy.parallel,
            output_stream: deploy.output_stream.clone(),
            output_capacity: if deploy.on_demand {
                Capacity::OnDemand
            } else {
                Capacity::Provisioned(deploy.output_shards)
            },
        },
        ttl: deploy.ttl,
    }
}
