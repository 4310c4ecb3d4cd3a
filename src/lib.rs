//! ktail: `tail -f | grep` for Amazon Kinesis Data Streams.
//!
//! The library is split so that the grep Lambda (`lambda-artifact/`) builds only what it runs.
//! With no feature: `kpl`, `decode`, `filter`, `pattern`, `contract` (what the CLI and the
//! function agree on) and `retry` (the one backoff policy), pure and free of AWS. `writer` adds
//! `put_records` (the PutRecords writer both sides use), `function` the grep function's core; the
//! default `cli` feature enables both and everything the command line needs.

pub mod contract;
pub mod decode;
pub mod filter;
#[cfg(feature = "function")]
pub mod function;
pub mod kpl;
pub mod pattern;
#[cfg(feature = "writer")]
pub mod put_records;
pub mod retry;

#[cfg(feature = "cli")]
pub mod attachment;
#[cfg(feature = "cli")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod commands;
#[cfg(feature = "cli")]
pub mod config;
#[cfg(feature = "cli")]
pub mod context;
#[cfg(feature = "demo")]
pub mod demo;
#[cfg(feature = "cli")]
pub mod exit;
#[cfg(feature = "cli")]
pub mod kinesis;
#[cfg(feature = "cli")]
pub mod logging;
#[cfg(feature = "cli")]
pub mod meter;
#[cfg(feature = "cli")]
pub mod picker;
#[cfg(feature = "cli")]
pub mod printer;
#[cfg(feature = "cli")]
pub mod progress;
#[cfg(feature = "cli")]
pub mod session;
#[cfg(feature = "cli")]
pub mod signals;
