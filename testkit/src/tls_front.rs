//! The realism layer's TLS + HTTP/2 endpoint: nginx in front of an emulator, serving TLS with
//! ALPN `h2` and answering nothing but HTTP/2, as Kinesis does for SubscribeToShard ("Developing
//! enhanced fan-out consumers with the Kinesis Data Streams API": SubscribeToShard runs over
//! HTTP/2 only, <https://docs.aws.amazon.com/streams/latest/dev/building-enhanced-consumers-api.html>;
//! the API reference's SubscribeToShard page:
//! <https://docs.aws.amazon.com/kinesis/latest/APIReference/API_SubscribeToShard.html>).
//!
//! Each [`start`] makes its own directory under `target/tmp/tls-front/` with a fresh test CA, a
//! leaf certificate for `127.0.0.1` signed by it (made with the `openssl` command: no crate to
//! build, and nginx needs files anyway), an nginx configuration and the logs. A client trusts the
//! CA through `SSL_CERT_FILE`, which the SDK's default HTTPS client (rustls with the platform's
//! roots, `rustls-native-certs`) honours. The access log shows each call's protocol and
//! X-Amz-Target; a call that is not HTTP/2 gets 426 and is logged as such.
//!
//! nginx comes from the system (Debian: `apt-get install nginx-light openssl`; `.ci/run` installs
//! both). It is started with `PR_SET_PDEATHSIG` like the other child emulators and stopped when
//! the [`TlsFront`] is dropped.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::{STARTUP_TIMEOUT, free_port, log_tail, spawn_tied, target_tmp};

/// A running nginx: `https://127.0.0.1:PORT` in front of one upstream.
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`
    pub endpoint: String,
    /// The test CA's certificate (PEM), for `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    /// One line per call: `<protocol> <X-Amz-Target> <status>`.
    pub access_log: PathBuf,
    pub error_log: PathBuf,
    child: Child,
}

/// One logged call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// `$server_protocol`: `HTTP/2.0`, `HTTP/1.1`, ...
    pub protocol: String,
    /// `$http_x_amz_target`, e.g. `Kinesis_20131202.SubscribeToShard` (`-` when absent).
    pub target: String,
    pub status: String,
}

/// The nginx binary: on PATH, else Debian's /usr/sbin/nginx (not on a non-root user's PATH).
pub fn nginx() -> PathBuf {
    let on_path = Command::new("nginx")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return PathBuf::from("nginx");
    }
    let debian = PathBuf::from("/usr/sbin/nginx");
    assert!(
        debian.exists(),
        "the TLS + HTTP/2 tests need nginx and openssl: apt-get install nginx-light openssl \
         (.ci/run installs them)"
    );
    debian
}

/// Starts nginx on a free 127.0.0.1 port: TLS with a fresh test CA, HTTP/2 only, proxying to
/// `upstream` (`http://127.0.0.1:PORT`) with no buffering either way (event streams flow).
pub fn start(upstream: &str) -> TlsFront {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let port = free_port();
    let dir = target_tmp().join("tls-front").join(format!(
        "{}-{}-{port}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("tmp")).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let ca_file = make_certificates(&dir);
    let access_log = dir.join("access.log");
    let error_log = dir.join("error.log");
    let upstream = upstream.trim_end_matches('/');
    // As root, nginx would switch to `nobody`, who cannot write here.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    let tmp = dir.join("tmp");
    let tmp = tmp.display();
    let config = format!(
        r#"{user}
# One process, no workers: it dies with the test binary (PR_SET_PDEATHSIG) and leaves nothing.
master_process off;
daemon off;
pid {pid};
error_log {error_log} info;
events {{ worker_connections 256; }}
http {{
    log_format calls '$server_protocol $http_x_amz_target $status';
    access_log {access_log} calls;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 16m;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {dir}/leaf.pem;
        ssl_certificate_key {dir}/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        # ALPN offers h2 (and http/1.1, which nginx cannot switch off); anything but HTTP/2 is
        # refused here, as Kinesis refuses SubscribeToShard over HTTP/1.1.
        if ($server_protocol != "HTTP/2.0") {{ return 426; }}
        location / {{
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 600s;
            proxy_send_timeout 600s;
        }}
    }}
}}
"#,
        pid = dir.join("nginx.pid").display(),
        error_log = error_log.display(),
        access_log = access_log.display(),
        dir = dir.display(),
    );
    let conf = dir.join("nginx.conf");
    fs::write(&conf, config).unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
    let mut cmd = Command::new(nginx());
    cmd.arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = spawn_tied(cmd).unwrap_or_else(|e| panic!("cannot start nginx: {e}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "nginx exited with {status} before listening on {addr}; {}:\n{}",
                error_log.display(),
                log_tail(&error_log)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "nginx did not listen on {addr} within {STARTUP_TIMEOUT:?}; {}:\n{}",
                error_log.display(),
                log_tail(&error_log)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    TlsFront {
        endpoint: format!("https://{addr}"),
        ca_file,
        access_log,
        error_log,
        child,
    }
}

/// A test CA and a leaf certificate for IP 127.0.0.1 signed by it (P-256 keys: instant). The
/// leaf is a separate certificate because rustls refuses a CA certificate used as the server's
/// (`CaUsedAsEndEntity`). Returns the CA's PEM file.
fn make_certificates(dir: &Path) -> PathBuf {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=ktail test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1\n",
    )
    .expect("write leaf.ext");
    let serial = format!(
        "{}",
        std::process::id() as u64 * 1000 + u64::from(fastrand())
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
    dir.join("ca.pem")
}

/// A few random bits for a certificate serial (distinct per start within a run).
fn fastrand() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(0u8) as u16
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): apt-get install openssl (.ci/run installs it)")
        });
    assert!(
        out.status.success(),
        "openssl {args:?} failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TlsFront {
    /// The calls logged so far (a call is logged when it ends: a SubscribeToShard when its
    /// subscription does).
    pub fn logged(&self) -> Vec<Logged> {
        let text = fs::read_to_string(&self.access_log).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                Some(Logged {
                    protocol: parts.next()?.to_string(),
                    target: parts.next()?.to_string(),
                    status: parts.next()?.to_string(),
                })
            })
            .collect()
    }

    /// Waits until a call to `operation` (the X-Amz-Target's suffix) is logged; panics after
    /// `timeout`, showing the logs.
    pub fn wait_logged(&self, operation: &str, timeout: Duration) -> Vec<Logged> {
        let suffix = format!(".{operation}");
        let deadline = Instant::now() + timeout;
        loop {
            let logged = self.logged();
            if logged.iter().any(|l| l.target.ends_with(&suffix)) {
                return logged;
            }
            assert!(
                Instant::now() < deadline,
                "nginx logged no {operation} within {timeout:?}; access log:\n{}\nerror log:\n{}",
                fs::read_to_string(&self.access_log).unwrap_or_default(),
                log_tail(&self.error_log)
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
