//! Integration tests: the real `ktail` binary against real emulators on 127.0.0.1.
//! One test binary, one module per area; the `ktail-testkit` crate (`testkit/`) starts and stops
//! the emulators.

mod attach;
mod cli;
mod credentials;
mod decode;
#[cfg(feature = "demo")]
mod demo;
mod efo;
mod efo_attach;
mod filter_pattern;
mod grep;
mod kpl;
mod put;
mod realism;
mod tail;
mod testkit;
mod ux;
mod wide;
