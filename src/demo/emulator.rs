//! The embedded Kinesis: the `ferrokinesis` emulator's router served by axum on 127.0.0.1 inside
//! this process, and the one SDK configuration that talks to it.
//!
//! Architecture invariant: nothing here reads the AWS environment. The SDK configuration is built
//! field by field (static demo credentials, a fixed region, the emulator's endpoint), never
//! through `aws_config::defaults` or a profile, so `ktail demo` neither reads `~/.aws` nor honours
//! `AWS_*` variables, and no request can leave the machine.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context as _, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::{Credentials, SharedCredentialsProvider};
use tokio::sync::oneshot;

/// The region the emulator answers as (ARNs carry it).
pub const REGION: &str = "us-east-1";
/// Credentials for the emulator, which accepts any; printed by `--serve` for other processes.
pub const ACCESS_KEY_ID: &str = "demo";
pub const SECRET_ACCESS_KEY: &str = "demo";
/// Account id in the emulator's ARNs.
pub const ACCOUNT_ID: &str = "000000000000";

/// Kinesis takes 5 MiB PutRecords requests, about 7 MB as base64 JSON; axum's default is 2 MB.
const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// What the emulator keeps before refusing writes: the demo's traffic is a few kB/s and the
/// emulator never trims (Kinesis' shortest retention is 24 hours), so a long `--serve` is capped.
const MAX_RETAINED_BYTES: u64 = 256 * 1024 * 1024;

/// A running embedded Kinesis; it stops when dropped.
pub struct Embedded {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Embedded {
    /// Starts the emulator on 127.0.0.1:`port` (0: any free port).
    pub async fn start(port: u16) -> Result<Embedded> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener =
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| match port {
                    0 => "cannot listen on 127.0.0.1".to_owned(),
                    _ => {
                        format!("cannot listen on 127.0.0.1:{port}; pick another port with --port")
                    }
                })?;
        let address = listener
            .local_addr()
            .context("cannot read the emulator's address")?;
        let (app, _store) = ferrokinesis::create_app(options());
        let app = app.layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT));
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(err) = served {
                tracing::debug!("the embedded Kinesis stopped: {err}");
            }
        });
        Ok(Embedded {
            endpoint: format!("http://{address}"),
            shutdown: Some(shutdown),
        })
    }

    /// The SDK configuration for this emulator and nothing else.
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config(&self.endpoint)
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Streams become ACTIVE at once (the demo waits for nothing); everything else as ferrokinesis
/// ships it, with room for the streams a `--serve` user creates.
fn options() -> ferrokinesis::store::StoreOptions {
    ferrokinesis::store::StoreOptions {
        create_stream_ms: 0,
        delete_stream_ms: 0,
        update_stream_ms: 0,
        shard_limit: 64,
        max_retained_bytes: Some(MAX_RETAINED_BYTES),
        aws_account_id: ACCOUNT_ID.to_owned(),
        aws_region: REGION.to_owned(),
        ..Default::default()
    }
}

/// An SDK configuration built explicitly: static credentials, [`REGION`], `endpoint`. Unlike
/// `aws_config::defaults`, it consults no environment variable, profile file or instance metadata.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "ktail-demo",
        )))
        .endpoint_url(endpoint)
        .build()
}
