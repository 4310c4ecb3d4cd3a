//! ktail's test kit: real AWS emulators on 127.0.0.1 and the real `ktail` binary pointed at them.
//! The ktail crate's integration tests and benches and the grep function's tests and benches use
//! it as a dev-dependency.
//!
//! # Which emulator serves which case, and why
//!
//! Neither Kinesis emulator is faithful everywhere (both measured with aws-sdk-kinesis 1.130), so
//! each test uses the one that is faithful for what it proves:
//!
//! - [`ferrokinesis`] (in-process, one fresh server per call, fast: ~150k records/s written,
//!   ~350k/s read): everything by default, including the heavy cases, SubscribeToShard (`--efo`;
//!   session length via `StoreOptions`), expiring iterators (`iterator_ttl_seconds`), write
//!   throttling (`enforce_limits`). Not faithful for: `ChildShards` at the end of a closed shard
//!   (never returned), ListShards `ShardFilter` and `NextToken` paging, AT_TIMESTAMP (cut to whole
//!   seconds), ON_DEMAND creation (needs a shard count), StreamARN on GetShardIterator.
//! - [`kinesis_mock`] (npm `kinesis-local` under node, one per test binary, shared): the
//!   cases ferrokinesis gets wrong — resharding (ChildShards, ShardFilter, paging), `--since` /
//!   AT_TIMESTAMP (millisecond timestamps), ON_DEMAND streams, stream ARNs. It slows to a few
//!   hundred records/s as a stream fills, so keep its tests to hundreds of records; its
//!   SubscribeToShard works only over plain HTTP/1.1.
//! - [`moto`] (moto_server, one per test binary, shared): Lambda, IAM and event source
//!   mappings. Its mappings check the stream against moto's own Kinesis, so tests that wire a
//!   mapping create their streams in moto. CreateFunction needs the role in moto's IAM. It never
//!   runs a function (it tries Docker on each put and fails harmlessly), and its Kinesis never
//!   ends a closed shard, so keep resharding off moto.
//!
//! Shared emulators are shared by every test of the binary: use [`unique_name`] for every stream,
//! function and role.
//!
//! # Processes
//!
//! Child emulators are spawned from one thread that never ends, with `PR_SET_PDEATHSIG`, so the
//! kernel kills them when the test binary dies for any reason (a panic, a signal, `exit`); they
//! are also killed from an `atexit` hook on a normal exit. Their output goes to a log file under
//! `target/tmp/emulators/`, named in every panic about them.
//!
//! # Tools
//!
//! `cargo test` needs no set-up: when moto, `aws_kinesis_agg` and `six` are not importable by
//! `python3`, they are installed into a venv under `target/test-tools/`; kinesis-local is
//! installed there with npm. The versions are the ones `tools.env` at the workspace root pins
//! (compiled in: see [`pinned`]), which `.ci/run` installs too. A file lock keeps parallel test
//! binaries from installing at once. `KTAIL_TEST_TOOLS` moves that directory; `KTAIL_TEST_PYTHON`
//! names an interpreter to use.
//!
//! # Where things are
//!
//! The kit is a library, so it does not see the `CARGO_BIN_EXE_ktail` and `CARGO_TARGET_TMPDIR`
//! that cargo gives test and bench targets at compile time. It finds both from the running
//! executable instead: cargo puts test and bench executables in `target/<profile>/deps/` and the
//! `ktail` binary in `target/<profile>/` (see [`ktail_bin`] and [`target_dir`]).

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// The non-deprecated names live in aws-runtime, which is not worth a dependency for one call.
#[allow(deprecated)]
use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::Credentials;

pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY_ID: &str = "test";
pub const SECRET_ACCESS_KEY: &str = "test";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// `tools.env` at the workspace root: the tool versions, pinned once for `.ci/run` and the kit.
const TOOLS_ENV: &str = include_str!("../../tools.env");

// ---------------------------------------------------------------------------------------------
// Emulators
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ferrokinesis,
    KinesisMock,
    Moto,
}

/// A running emulator. Dropping an in-process ferrokinesis stops it; shared child emulators live
/// as long as the test binary.
pub struct Emulator {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub kind: Kind,
    /// The child's stdout+stderr (child emulators only).
    pub log: Option<PathBuf>,
    /// The in-process store (ferrokinesis only), to inspect or seed state without the API.
    pub store: Option<ferrokinesis::store::Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A fresh in-process ferrokinesis on 127.0.0.1:<free port>, served from its own thread and
/// runtime so it outlives any single `#[tokio::test]` runtime; it stops when dropped.
pub fn ferrokinesis() -> Emulator {
    ferrokinesis_with(ferrokinesis_options())
}

/// Defaults for [`ferrokinesis_with`]: instant stream creation and deletion (tests wait for
/// ACTIVE anyway), everything else as ferrokinesis ships it.
pub fn ferrokinesis_options() -> ferrokinesis::store::StoreOptions {
    ferrokinesis::store::StoreOptions {
        create_stream_ms: 0,
        delete_stream_ms: 0,
        update_stream_ms: 0,
        aws_region: REGION.to_string(),
        ..Default::default()
    }
}

/// A fresh in-process ferrokinesis with these options (e.g. `iterator_ttl_seconds`,
/// `shard_limit`, `enforce_limits`, `subscribe_to_shard_session_ms`).
pub fn ferrokinesis_with(options: ferrokinesis::store::StoreOptions) -> Emulator {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for ferrokinesis");
    let addr = listener.local_addr().expect("local address");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let (store_tx, store_rx) = mpsc::channel();
    thread::Builder::new()
        .name(format!("ferrokinesis-{}", addr.port()))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("ferrokinesis runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let (app, store) = ferrokinesis::create_app(options);
                // Kinesis takes 5 MiB PutRecords (~7 MB as base64 JSON); axum's default is 2 MB.
                let app = app.layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024));
                let _ = store_tx.send(store);
                // h2c as well as HTTP/1.1: SubscribeToShard may negotiate either.
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown_rx.await;
                    })
                    .await;
            });
            // Connections a test leaked must not keep this thread (and the test) alive.
            runtime.shutdown_background();
        })
        .expect("spawn the ferrokinesis thread");
    let store = store_rx
        .recv_timeout(STARTUP_TIMEOUT)
        .expect("ferrokinesis did not start");
    Emulator {
        endpoint: format!("http://{addr}"),
        kind: Kind::Ferrokinesis,
        log: None,
        store: Some(store),
        shutdown: Some(shutdown_tx),
    }
}

/// One kinesis-mock (node, 127.0.0.1) per test binary, started on first use and shared: use
/// unique stream names.
pub fn kinesis_mock() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(start_kinesis_mock)
}

/// One moto server (Lambda, IAM, Kinesis, event source mappings) per test binary, started on
/// first use and shared: use unique names.
pub fn moto() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(start_moto)
}

fn start_kinesis_mock() -> Emulator {
    let main_js = kinesis_mock_main_js();
    let dir = main_js
        .parent()
        .expect("main.js has a directory")
        .to_path_buf();
    let port = free_port();
    let tls_port = free_port();
    let mut cmd = Command::new(node());
    cmd.arg(&main_js)
        .current_dir(&dir)
        .env("KINESIS_MOCK_PLAIN_PORT", port.to_string())
        .env("KINESIS_MOCK_TLS_PORT", tls_port.to_string())
        .env("KINESIS_MOCK_CERT_PATH", dir.join("server.json"))
        .env("AWS_REGION", REGION)
        .env("LOG_LEVEL", "WARN")
        // Shared by every test of the binary, so far above the default of 50.
        .env("SHARD_LIMIT", "2000")
        .env("ON_DEMAND_STREAM_COUNT_LIMIT", "500")
        // State changes stay asynchronous (tests must wait for ACTIVE, as on AWS) but short.
        .env("CREATE_STREAM_DURATION", "100ms")
        .env("DELETE_STREAM_DURATION", "100ms")
        .env("UPDATE_SHARD_COUNT_DURATION", "100ms")
        .env("SPLIT_SHARD_DURATION", "100ms")
        .env("MERGE_SHARDS_DURATION", "100ms")
        .env("UPDATE_STREAM_MODE_DURATION", "100ms")
        .env("REGISTER_STREAM_CONSUMER_DURATION", "100ms")
        .env("DEREGISTER_STREAM_CONSUMER_DURATION", "100ms");
    start_child(Kind::KinesisMock, "kinesis-mock", cmd, port)
}

fn start_moto() -> Emulator {
    let port = free_port();
    let mut cmd = Command::new(python());
    cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
        .arg(port.to_string())
        // MOTO_IAM_LOAD_MANAGED_POLICIES stays unset: ktail's role carries an inline policy, and
        // loading every AWS-managed policy slows moto's first IAM call by about a second.
        .env("AWS_DEFAULT_REGION", REGION);
    start_child(Kind::Moto, "moto", cmd, port)
}

fn start_child(kind: Kind, name: &str, mut cmd: Command, port: u16) -> Emulator {
    let log_dir = target_tmp().join("emulators");
    fs::create_dir_all(&log_dir).expect("create target/tmp/emulators");
    prune_old_logs(&log_dir);
    let log = log_dir.join(format!("{name}-{}-{port}.log", std::process::id()));
    let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let err = out.try_clone().expect("clone log file");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_PROFILE") {
            cmd.env_remove(key);
        }
    }
    let mut child = spawn_tied(cmd)
        .unwrap_or_else(|e| panic!("cannot start {name} (log: {}): {e}", log.display()));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if answers_http(addr) {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited with {status} before answering on {addr}; its log {}:\n{}",
                log.display(),
                log_tail(&log)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{name} did not answer on {addr} within {STARTUP_TIMEOUT:?}; its log {}:\n{}",
                log.display(),
                log_tail(&log)
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    // The child is reaped by the kernel when this binary ends; keep the handle alive meanwhile.
    std::mem::forget(child);
    Emulator {
        endpoint: format!("http://{addr}"),
        kind,
        log: Some(log),
        store: None,
        shutdown: None,
    }
}

/// Every test binary leaves a log per child emulator; keep a day's worth for post-mortems.
fn prune_old_logs(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let day = Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether something on `addr` answers an HTTP request (any status will do).
fn answers_http(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 8];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free 127.0.0.1 port")
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Emulator {
    /// Where to look when a call to this emulator fails: its log, for a child process.
    pub fn log_hint(&self) -> String {
        match &self.log {
            Some(log) => format!(" (emulator log: {})", log.display()),
            None => String::new(),
        }
    }

    /// An SDK configuration for this emulator: test credentials, [`REGION`], its endpoint, and
    /// no shared config files (tests never read the developer's AWS set-up).
    #[allow(deprecated)]
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "ktail-tests",
            ))
            .endpoint_url(&self.endpoint)
            .profile_files(
                ProfileFiles::builder()
                    .with_contents(ProfileFileKind::Config, "")
                    .build(),
            )
            .load()
            .await
    }

    pub async fn kinesis(&self) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::new(&self.sdk_config().await)
    }

    pub async fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk_config().await)
    }

    pub async fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config().await)
    }

    /// The real binary with a clean AWS environment (see [`ktail`]) and `AWS_ENDPOINT_URL`
    /// pointing at this emulator.
    pub fn ktail(&self) -> Command {
        let mut cmd = ktail();
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint);
        cmd
    }

    /// [`Emulator::ktail`] for async tests; killed when dropped.
    pub fn ktail_async(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(self.ktail());
        cmd.kill_on_drop(true);
        cmd
    }

    /// Creates a provisioned stream and waits until it is ACTIVE.
    pub async fn create_stream(&self, name: &str, shards: i32) {
        let client = self.kinesis().await;
        client
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create stream {name}: {e:?}{}", self.log_hint()));
        self.wait_active(&client, name).await;
    }

    /// Creates an on-demand stream and waits until it is ACTIVE (use kinesis-mock: ferrokinesis
    /// wants a shard count).
    pub async fn create_on_demand_stream(&self, name: &str) {
        let client = self.kinesis().await;
        client
            .create_stream()
            .stream_name(name)
            .stream_mode_details(
                aws_sdk_kinesis::types::StreamModeDetails::builder()
                    .stream_mode(aws_sdk_kinesis::types::StreamMode::OnDemand)
                    .build()
                    .expect("stream mode"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create on-demand stream {name}: {e:?}{}", self.log_hint()));
        self.wait_active(&client, name).await;
    }

    /// The stream's ARN.
    pub async fn stream_arn(&self, name: &str) -> String {
        self.kinesis()
            .await
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeStreamSummary {name}: {e:?}"))
            .stream_description_summary
            .unwrap_or_else(|| panic!("{name} has no description"))
            .stream_arn
    }

    /// Waits until the stream is ACTIVE (after a create or a reshard). Not the SDK's
    /// `wait_until_stream_exists`: its first retry comes after 10 s, which would dominate every
    /// test on kinesis-mock, where a state change takes 100 ms.
    pub async fn wait_active(&self, client: &aws_sdk_kinesis::Client, name: &str) {
        use aws_sdk_kinesis::types::StreamStatus;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = client
                .describe_stream_summary()
                .stream_name(name)
                .send()
                .await
                .ok()
                .and_then(|out| out.stream_description_summary)
                .map(|d| d.stream_status);
            if status == Some(StreamStatus::Active) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "stream {name} did not become ACTIVE within 60 s (last status {status:?}){}",
                self.log_hint()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Puts each item as one record (PutRecords in batches of 500, retrying failed entries),
    /// with partition keys spread over the shards. Returns nothing; panics on a failure.
    pub async fn put_records<I, D>(&self, stream: &str, records: I)
    where
        I: IntoIterator<Item = D>,
        D: AsRef<[u8]>,
    {
        let keyed: Vec<(String, Vec<u8>)> = records
            .into_iter()
            .enumerate()
            .map(|(i, data)| (format!("key-{i}"), data.as_ref().to_vec()))
            .collect();
        put_keyed(&self.kinesis().await, stream, &keyed).await;
    }
}

/// Puts `(partition key, data)` pairs with PutRecords in batches of 500, in order, sending the
/// failed entries again until all are in (order within a key holds: failures are the tail of a
/// throttled call on the emulators). Panics if they keep failing.
pub async fn put_keyed(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    records: &[(String, Vec<u8>)],
) {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::PutRecordsRequestEntry;
    for chunk in records.chunks(500) {
        let mut pending: Vec<PutRecordsRequestEntry> = chunk
            .iter()
            .map(|(key, data)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(key)
                    .data(Blob::new(data.clone()))
                    .build()
                    .expect("entry")
            })
            .collect();
        for attempt in 0.. {
            assert!(
                attempt < 50,
                "put_records to {stream}: entries keep failing"
            );
            let out = client
                .put_records()
                .stream_name(stream)
                .set_records(Some(pending.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put_records to {stream}: {e:?}"));
            if out.failed_record_count().unwrap_or(0) == 0 {
                break;
            }
            pending = pending
                .into_iter()
                .zip(out.records())
                .filter(|(_, r)| r.error_code().is_some())
                .map(|(e, _)| e)
                .collect();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The ktail binary
// ---------------------------------------------------------------------------------------------

/// The path of the `ktail` binary under test: the one cargo built with the running test or bench
/// executable, `target/<profile>/ktail` (what `CARGO_BIN_EXE_ktail` names in ktail's own tests;
/// `tests/testkit.rs` checks that they agree).
pub fn ktail_bin() -> PathBuf {
    profile_dir().join("ktail")
}

/// The real binary with a clean AWS environment: every `AWS_*` variable of this process removed,
/// then test credentials, [`REGION`], no config files and no instance metadata.
pub fn ktail() -> Command {
    let mut cmd = Command::new(ktail_bin());
    clean_aws_env(&mut cmd);
    cmd.stdin(Stdio::null());
    cmd
}

/// Removes every `AWS_*` variable and sets the test ones (credentials, region, config files that
/// do not exist, no IMDS).
pub fn clean_aws_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    let nowhere = target_tmp().join("no-such-aws-file");
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG");
}

/// What a finished ktail run produced.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stdout as one JSON document (`-o json` output); panics with stdout when it is not.
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout_str()))
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout_str().lines().map(str::to_owned).collect()
    }

    /// Panics, showing both streams, unless the run exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit code {code}, got {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.stdout_str(),
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }
}

/// Runs ktail to completion with a timeout (then it is killed and the test panics, showing its
/// stderr). stdin is empty unless the command set one.
pub fn run_ktail(cmd: Command, timeout: Duration) -> Output {
    run_ktail_with_stdin(cmd, None, timeout)
}

/// [`run_ktail`] feeding `stdin` to the process.
pub fn run_ktail_with_stdin(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    let mut running = {
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        Running::spawn(cmd)
    };
    if let Some(input) = stdin {
        let mut pipe = running.child.stdin.take().expect("stdin pipe");
        let input = input.to_vec();
        // A writer thread: a child that stops reading must not deadlock the test.
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    running.wait(timeout)
}

/// A ktail process running in the background (a follow-mode tail, a grep session): read its
/// output as it comes, interrupt it, then collect the rest. Killed when dropped.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<Vec<u8>>,
    stdout_seen: Vec<u8>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_thread: Option<thread::JoinHandle<()>>,
    command: String,
}

impl Running {
    /// Spawns `cmd` with stdout and stderr captured.
    pub fn spawn(mut cmd: Command) -> Running {
        let command = format!("{cmd:?}");
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
        let stdout = child.stdout.take().expect("stdout pipe");
        let mut stderr_pipe = child.stderr.take().expect("stderr pipe");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr buffer")
                    .extend_from_slice(&buf[..n]);
            }
        });
        Running {
            child,
            lines,
            stdout_seen: Vec::new(),
            stderr,
            stderr_thread: Some(stderr_thread),
            command,
        }
    }

    /// stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr buffer")).into_owned()
    }

    /// The next stdout line (with its newline, if any), or `None` at end of output. Panics after
    /// `timeout`, showing stderr.
    #[track_caller]
    pub fn next_line(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                self.stdout_seen.extend_from_slice(&line);
                Some(line)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "no output line from ktail within {timeout:?}\n--- command ---\n{}\n--- stdout so far ---\n{}\n--- stderr ---\n{}",
                self.command,
                String::from_utf8_lossy(&self.stdout_seen),
                self.stderr()
            ),
        }
    }

    /// The next `n` stdout lines as strings without their newlines; panics if they do not all
    /// arrive within `timeout` or the output ends first.
    #[track_caller]
    pub fn read_lines(&mut self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(line) => out.push(
                    String::from_utf8_lossy(&line)
                        .trim_end_matches(['\n', '\r'])
                        .to_owned(),
                ),
                None => panic!(
                    "ktail's output ended after {} of {n} lines\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    out.len(),
                    String::from_utf8_lossy(&self.stdout_seen),
                    self.stderr()
                ),
            }
        }
        out
    }

    /// Waits until stderr contains `needle`; panics after `timeout`.
    #[track_caller]
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "stderr never contained {needle:?} within {timeout:?}; stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    pub fn signal(&self, signal: libc::c_int) {
        // The child is ours and not yet reaped (we hold its handle), so the pid is still its.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Waits for the exit, collecting the rest of stdout and all stderr; kills it and panics
    /// after `timeout`.
    #[track_caller]
    pub fn wait(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    while let Ok(line) = self.lines.try_recv() {
                        self.stdout_seen.extend_from_slice(&line);
                    }
                    panic!(
                        "ktail did not finish within {timeout:?}\n--- command ---\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                        self.command,
                        String::from_utf8_lossy(&self.stdout_seen),
                        self.stderr()
                    );
                }
            }
        };
        // Both pipes close at exit (unless ktail left a child holding them: bounded wait).
        let drain_deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = drain_deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stdout_seen.extend_from_slice(&line),
                Err(_) => break,
            }
        }
        if let Some(handle) = self.stderr_thread.take() {
            let _ = handle.join();
        }
        Output {
            status,
            stdout: std::mem::take(&mut self.stdout_seen),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// A name unique per test and per run, valid for Kinesis streams, Lambda functions and IAM roles
/// (letters, digits, `-`; at most 64 characters).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let suffix = format!("-{:x}{:x}-{n}", std::process::id(), millis % 0xff_ffff);
    let clean: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64 - suffix.len())
        .collect();
    format!("{clean}{suffix}")
}

// ---------------------------------------------------------------------------------------------
// Tools: python (moto, aws_kinesis_agg), node (kinesis-mock)
// ---------------------------------------------------------------------------------------------

/// The workspace root (this crate is its `testkit/`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ is in the workspace root")
}

/// `target/<profile>`: cargo puts test and bench executables in its `deps/` directory, and the
/// binaries they run (`ktail`) in it.
pub fn profile_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the path of the running test executable");
        exe.parent()
            .filter(|dir| dir.ends_with("deps"))
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| {
                panic!(
                    "{} is not in a cargo target/<profile>/deps directory: run it with cargo test or cargo bench",
                    exe.display()
                )
            })
    })
}

/// `target/`, the parent of [`profile_dir`].
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// `target/tmp` (the `CARGO_TARGET_TMPDIR` of test and bench targets): scratch space for tests
/// (logs, files), kept between runs.
pub fn target_tmp() -> PathBuf {
    let dir = target_dir().join("tmp");
    static CREATED: OnceLock<()> = OnceLock::new();
    CREATED.get_or_init(|| {
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()))
    });
    dir
}

/// Where self-installed tools live (`target/test-tools`, or `$KTAIL_TEST_TOOLS`).
pub fn tools_dir() -> PathBuf {
    std::env::var_os("KTAIL_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("test-tools"))
}

/// The Python interpreter that has the pinned moto (with its server), `aws_kinesis_agg` and `six`:
/// `$KTAIL_TEST_PYTHON`, else `python3` when it has them, else a venv under [`tools_dir`],
/// created on first use.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(find_or_install_python)
}

fn find_or_install_python() -> PathBuf {
    if let Some(p) = std::env::var_os("KTAIL_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = tools_dir().join("venv");
    let venv_python = venv.join("bin").join("python");
    for candidate in [venv_python.as_os_str(), OsStr::new("python3")] {
        if let Some(exe) = python_with_tools(candidate) {
            return exe;
        }
    }
    with_tools_lock(|| {
        if let Some(exe) = python_with_tools(venv_python.as_os_str()) {
            return exe;
        }
        let packages = pip_packages();
        let log = tools_dir().join("pip-install.log");
        let status = run_logged(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            &log,
        );
        assert!(
            status.success(),
            "python3 -m venv {} failed; see {}\n{}",
            venv.display(),
            log.display(),
            log_tail(&log)
        );
        let status = run_logged(
            Command::new(&venv_python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
                .args(&packages),
            &log,
        );
        assert!(
            status.success(),
            "pip install {packages:?} failed; see {}\n{}",
            log.display(),
            log_tail(&log)
        );
        python_with_tools(venv_python.as_os_str()).unwrap_or_else(|| {
            panic!(
                "{} still lacks moto {} / aws_kinesis_agg / six after installing",
                venv_python.display(),
                pinned("MOTO_VERSION")
            )
        })
    })
}

/// What the tests need from PyPI, at the pinned versions.
fn pip_packages() -> [String; 3] {
    [
        format!("moto[server]=={}", pinned("MOTO_VERSION")),
        format!("aws-kinesis-agg=={}", pinned("KINESIS_AGG_VERSION")),
        "six".to_owned(),
    ]
}

/// The interpreter's real path if it imports everything the tests need, at the pinned moto.
fn python_with_tools(python: &OsStr) -> Option<PathBuf> {
    let check = format!(
        "import sys, six, aws_kinesis_agg, moto, moto.server\n\
         assert moto.__version__ == '{}', moto.__version__\n\
         print(sys.executable)",
        pinned("MOTO_VERSION")
    );
    let out = Command::new(python)
        .args(["-c", &check])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let exe = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !exe.trim().is_empty()).then(|| PathBuf::from(exe.trim()))
}

/// The version `tools.env` pins for `name` (e.g. `"MOTO_VERSION"`). The file is compiled in, so
/// a test run needs nothing but the source tree; panics when the file pins no such name.
pub fn pinned(name: &str) -> &'static str {
    TOOLS_ENV
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("tools.env pins no {name}"))
}

/// `node`, which runs kinesis-mock.
pub fn node() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let ok = Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "kinesis-mock needs Node.js: install `node` and `npm` (e.g. apt-get install nodejs npm)"
        );
        PathBuf::from("node")
    })
}

/// The pinned kinesis-local's `main.js`, rewritten to listen on 127.0.0.1 instead of 0.0.0.0, next
/// to a copy of its `server.json`; installed with npm into [`tools_dir`] on first use.
pub fn kinesis_mock_main_js() -> PathBuf {
    static MAIN: OnceLock<PathBuf> = OnceLock::new();
    MAIN.get_or_init(|| {
        let version = pinned("KINESIS_LOCAL_VERSION");
        // Named after the version, so that a new pin in tools.env is not served a stale copy.
        let loopback = tools_dir().join(format!("kinesis-mock-loopback-{version}"));
        let main = loopback.join("main.js");
        if main.exists() && loopback.join("server.json").exists() {
            return main;
        }
        with_tools_lock(|| {
            if main.exists() && loopback.join("server.json").exists() {
                return main.clone();
            }
            let package = tools_dir().join("node_modules").join("kinesis-local");
            if installed_version(&package).as_deref() != Some(version) {
                let log = tools_dir().join("npm-install.log");
                let status = run_logged(
                    Command::new("npm")
                        .args(["install", "--no-audit", "--no-fund", "--prefix"])
                        .arg(tools_dir())
                        .arg(format!("kinesis-local@{version}")),
                    &log,
                );
                assert!(
                    status.success(),
                    "npm install kinesis-local@{version} failed; see {}\n{}",
                    log.display(),
                    log_tail(&log)
                );
            }
            let original = fs::read_to_string(package.join("main.js"))
                .unwrap_or_else(|e| panic!("read {}: {e}", package.join("main.js").display()));
            let from = r#"em("0.0.0.0")"#;
            assert_eq!(
                original.matches(from).count(),
                1,
                "kinesis-local's main.js no longer binds with {from}: update the loopback patch"
            );
            let patched = original.replace(from, r#"em("127.0.0.1")"#);
            fs::create_dir_all(&loopback).expect("create the kinesis-mock copy's directory");
            fs::copy(package.join("server.json"), loopback.join("server.json"))
                .expect("copy kinesis-local's server.json");
            // Written under another name first: another binary may test `main.exists()` unlocked.
            let partial = loopback.join("main.js.partial");
            fs::write(&partial, patched).expect("write the loopback main.js");
            fs::rename(&partial, &main).expect("rename the loopback main.js");
            main.clone()
        })
    })
    .clone()
}

fn installed_version(package: &Path) -> Option<String> {
    let text = fs::read_to_string(package.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

fn run_logged(cmd: &mut Command, log: &Path) -> ExitStatus {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
    let err = out.try_clone().expect("clone log file");
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"))
}

/// Runs `f` holding an exclusive lock on `tools_dir()/.lock`, so that parallel test binaries
/// install once.
fn with_tools_lock<T>(f: impl FnOnce() -> T) -> T {
    use std::os::fd::AsRawFd;
    let dir = tools_dir();
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))
        .expect("open the test-tools lock");
    // Released when `lock` is closed at the end of this function.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(
        rc,
        0,
        "lock {}: {}",
        dir.display(),
        io::Error::last_os_error()
    );
    let result = f();
    drop(lock);
    result
}

// ---------------------------------------------------------------------------------------------
// Child processes that die with the test binary
// ---------------------------------------------------------------------------------------------

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

static CHILD_PIDS: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// Spawns `cmd` so that it cannot outlive this process. `PR_SET_PDEATHSIG` fires when the
/// *thread* that forked the child ends, so every such child is forked by one thread that lives
/// as long as the process.
fn spawn_tied(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("emulator-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop never ends.
                for SpawnRequest { mut cmd, reply } in rx {
                    let _ = reply.send(spawn_with_death_signal(&mut cmd));
                }
            })
            .expect("spawn the emulator-spawner thread");
        unsafe {
            libc::atexit(kill_children_at_exit);
        }
        tx
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .send(SpawnRequest { cmd, reply })
        .map_err(|_| io::Error::other("the emulator-spawner thread is gone"))?;
    let child = answer
        .recv()
        .map_err(|_| io::Error::other("the emulator-spawner thread is gone"))??;
    CHILD_PIDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(child.id() as libc::pid_t);
    Ok(child)
}

fn spawn_with_death_signal(cmd: &mut Command) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd.spawn()
}

extern "C" fn kill_children_at_exit() {
    if let Ok(pids) = CHILD_PIDS.try_lock() {
        for &pid in pids.iter() {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

pub mod esm_poller;
pub mod fault_proxy;
pub mod lambda_runtime;
pub mod realism;
pub mod throttle;
pub mod tls_front;

#[cfg(test)]
mod tests {
    use super::*;

    /// bash (`.ci/run` sources the file) and [`pinned`] read tools.env alike only in this format.
    #[test]
    fn tools_env_is_name_equals_value_lines_that_bash_and_the_kit_read_alike() {
        for line in TOOLS_ENV.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("tools.env: {line:?} is not NAME=value"));
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "tools.env: {name:?} is not an upper-case shell name"
            );
            assert!(
                !value.is_empty()
                    && !value.contains(|c: char| c.is_whitespace() || "\"'$#".contains(c)),
                "tools.env: the value of {name} must be bare: {value:?}"
            );
            assert_eq!(pinned(name), value);
        }
        for name in [
            "MOTO_VERSION",
            "KINESIS_AGG_VERSION",
            "KINESIS_LOCAL_VERSION",
        ] {
            pinned(name);
        }
    }
}
