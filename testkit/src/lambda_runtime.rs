//! A Lambda Runtime API stand-in on 127.0.0.1, so tests can run the committed grep `bootstrap`
//! as Lambda would: the function process long-polls `/2018-06-01/runtime/invocation/next`, gets
//! an event, and posts its response or error back. No emulator runs Lambda functions; this is
//! the part of Lambda a custom runtime talks to, and nothing more.
//!
//! [`bootstrap`] extracts the function from its committed zip; [`Function::spawn`] starts it
//! against a fresh [`RuntimeApi`]; [`Function::invoke`] sends one event and waits for the result.
//! Deliberately small: HTTP/1.1 with keep-alive, bodies framed by Content-Length or chunked.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The body posted to `/response`.
    Response(Vec<u8>),
    /// The body posted to `/error` (a JSON `errorType`/`errorMessage`).
    Error(Vec<u8>),
}

impl Outcome {
    /// The response as JSON; panics on an error outcome.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Outcome::Response(body) => serde_json::from_slice(body).expect("response is JSON"),
            Outcome::Error(body) => {
                panic!("the function failed: {}", String::from_utf8_lossy(body))
            }
        }
    }
}

struct Pending {
    id: String,
    payload: Vec<u8>,
    deadline_ms: u64,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Pending>>,
    ready: Condvar,
    waiting: Mutex<HashMap<String, mpsc::Sender<Outcome>>>,
    init_error: Mutex<Option<Vec<u8>>>,
    /// How many `/next` polls arrived (the function is up once it polls).
    polls: AtomicUsize,
}

/// The Runtime API server. It lives until the test process ends (its threads only block on
/// sockets and a condition variable), which is what a test needs.
pub struct RuntimeApi {
    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime API");
        let address = listener
            .local_addr()
            .expect("runtime API address")
            .to_string();
        let shared = Arc::new(Shared::default());
        let accept = Arc::clone(&shared);
        thread::Builder::new()
            .name("lambda-runtime-api".into())
            .spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    let shared = Arc::clone(&accept);
                    thread::spawn(move || {
                        let _ = serve(client, &shared);
                    });
                }
            })
            .expect("spawn the runtime API thread");
        RuntimeApi { address, shared }
    }

    /// Queues one event; the result arrives on the returned channel.
    pub fn submit(&self, payload: &[u8], deadline: Duration) -> mpsc::Receiver<Outcome> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = format!(
            "req-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let (tx, rx) = mpsc::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        let deadline_ms = (SystemTime::now() + deadline)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.shared.queue.lock().unwrap().push_back(Pending {
            id,
            payload: payload.to_vec(),
            deadline_ms,
        });
        self.shared.ready.notify_all();
        rx
    }

    /// What the function posted to `/runtime/init/error`, if it did.
    pub fn init_error(&self) -> Option<String> {
        self.shared
            .init_error
            .lock()
            .unwrap()
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// How many times the function asked for the next event.
    pub fn polls(&self) -> usize {
        self.shared.polls.load(Ordering::Relaxed)
    }
}

/// Extracts `bootstrap` from a committed zip (`arch`: "x86_64" or "arm64") into a fresh directory
/// under `target/tmp`, executable. Uses Python's zipfile (the harness's interpreter).
pub fn bootstrap(arch: &str) -> PathBuf {
    let zip = crate::workspace_root().join(format!("lambda-artifact/dist/ktail-grep-{arch}.zip"));
    let dir = crate::target_tmp().join(crate::unique_name(&format!("bootstrap-{arch}")));
    std::fs::create_dir_all(&dir).expect("create the bootstrap directory");
    let status = Command::new(crate::python())
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('bootstrap', sys.argv[2])",
        ])
        .arg(&zip)
        .arg(&dir)
        .status()
        .expect("run python to unzip the bootstrap");
    assert!(
        status.success(),
        "could not extract bootstrap from {}",
        zip.display()
    );
    let path = dir.join("bootstrap");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("chmod bootstrap");
    path
}

/// A function process served by its own [`RuntimeApi`]; killed when dropped.
pub struct Function {
    pub api: RuntimeApi,
    child: Child,
    log: PathBuf,
}

impl Function {
    /// Starts `bootstrap` with the Lambda environment (runtime API, function name, memory,
    /// test credentials, region) plus `env`, and nothing inherited from the test process.
    pub fn spawn(bootstrap: &Path, function_name: &str, env: &[(&str, &str)]) -> Function {
        let api = RuntimeApi::start();
        let log = crate::target_tmp().join(format!("{}.log", crate::unique_name("bootstrap")));
        let out = std::fs::File::create(&log).expect("create the function log");
        let mut cmd = Command::new(bootstrap);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_REGION", crate::REGION)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_SESSION_TOKEN", "test")
            .env(
                "LAMBDA_TASK_ROOT",
                bootstrap.parent().unwrap_or(Path::new("/")),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone the log file"))
            .stderr(out);
        let child = cmd.spawn().expect("start the bootstrap");
        Function { api, child, log }
    }

    /// Sends one event and waits for the function's answer; panics after `timeout`, or if the
    /// process exits first, showing its log.
    pub fn invoke(&mut self, payload: &[u8], timeout: Duration) -> Outcome {
        let rx = self.api.submit(payload, timeout);
        let start = std::time::Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(outcome) => return outcome,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("runtime API dropped the invocation")
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the function exited ({status}) before answering; init error: {:?}; log:\n{}",
                    self.api.init_error(),
                    self.log()
                );
            }
            assert!(
                start.elapsed() < timeout,
                "the function did not answer within {timeout:?}; log:\n{}",
                self.log()
            );
        }
    }

    /// Waits for the process to exit (e.g. after a failed init); `None` after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// What the function printed (stdout and stderr, as CloudWatch Logs would hold them).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves one connection: requests one after another (the runtime keeps its connection alive).
fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    loop {
        let Some((method, path, body)) = read_request(&mut reader)? else {
            return Ok(());
        };
        let path = path.trim_start_matches("/2018-06-01/runtime");
        match (method.as_str(), path) {
            ("GET", "/invocation/next") => {
                shared.polls.fetch_add(1, Ordering::Relaxed);
                let pending = {
                    let mut queue = shared.queue.lock().unwrap();
                    loop {
                        if let Some(pending) = queue.pop_front() {
                            break pending;
                        }
                        queue = shared.ready.wait(queue).unwrap();
                    }
                };
                let headers = format!(
                    "Lambda-Runtime-Aws-Request-Id: {}\r\nLambda-Runtime-Deadline-Ms: {}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:{}:123456789012:function:test\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n",
                    pending.id,
                    pending.deadline_ms,
                    crate::REGION
                );
                respond(&mut writer, 200, &headers, &pending.payload)?;
            }
            ("POST", "/init/error") => {
                *shared.init_error.lock().unwrap() = Some(body);
                respond(&mut writer, 202, "", b"{}")?;
            }
            ("POST", rest) if rest.starts_with("/invocation/") => {
                let rest = &rest["/invocation/".len()..];
                let (id, kind) = rest.rsplit_once('/').unwrap_or((rest, ""));
                let outcome = match kind {
                    "response" => Some(Outcome::Response(body)),
                    "error" => Some(Outcome::Error(body)),
                    _ => None,
                };
                let waiter = shared.waiting.lock().unwrap().remove(id);
                match (outcome, waiter) {
                    (Some(outcome), Some(tx)) => {
                        let _ = tx.send(outcome);
                        respond(&mut writer, 202, "", b"{}")?;
                    }
                    _ => respond(&mut writer, 404, "", b"{}")?,
                }
            }
            _ => respond(&mut writer, 404, "", b"{}")?,
        }
    }
}

/// One request: method, path and de-chunked body; `None` when the client closed the connection.
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> io::Result<Option<(String, String, Vec<u8>)>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some((method, path, body)))
}

fn respond(writer: &mut TcpStream, status: u16, headers: &str, body: &[u8]) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        _ => "Not Found",
    };
    write!(
        writer,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )?;
    writer.write_all(body)?;
    writer.flush()
}
