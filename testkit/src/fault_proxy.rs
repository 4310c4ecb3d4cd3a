//! A fault-injecting HTTP/1.1 proxy in front of an emulator: it answers chosen Kinesis calls with
//! an error (e.g. ProvisionedThroughputExceededException on GetRecords) and forwards the rest, so
//! tests can prove that ktail rides out what no emulator produces on demand. [`start_with`] takes
//! any [`Intercept`], which may also watch the responses of the calls it picks (the realism
//! layer's GetRecords throttling, `throttle.rs`, is one).
//!
//! Deliberately small: one thread per connection, requests framed by Content-Length, responses by
//! Content-Length or chunked encoding, which is all the AWS SDK and the emulators use.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Decides, for the n-th call (from 0) of the targeted operation, whether to fail it.
pub type Rule = Arc<dyn Fn(usize) -> bool + Send + Sync>;

pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// How many calls were answered with the injected error.
    pub injected: Arc<AtomicUsize>,
    /// How many calls of the targeted operation were seen.
    pub seen: Arc<AtomicUsize>,
}

/// Proxies to `upstream` (`http://host:port`), answering the `operation` calls (the X-Amz-Target
/// suffix, e.g. "GetRecords") that `rule` picks with HTTP 400 and `error_type`.
pub fn start(upstream: &str, operation: &str, error_type: &str, rule: Rule) -> FaultProxy {
    let body = format!(r#"{{"__type":"{error_type}","message":"injected by the test proxy"}}"#);
    let answer: Answer = Arc::new(move |n, _request| rule(n).then(|| (400, body.clone())));
    start_answering(upstream, operation, answer)
}

/// Decides, for the n-th call (from 0) of the targeted operation and its request body, whether to
/// answer it here with `(HTTP status, JSON body)` instead of forwarding it; e.g. a 200 PutRecords
/// answer whose entries all failed, which no emulator produces on demand.
pub type Answer = Arc<dyn Fn(usize, &[u8]) -> Option<(u16, String)> + Send + Sync>;

/// Proxies to `upstream`, letting `answer` reply to the `operation` calls it chooses.
pub fn start_answering(upstream: &str, operation: &str, answer: Answer) -> FaultProxy {
    let injected = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let endpoint = start_with(
        upstream,
        Arc::new(OneOperation {
            operation: operation.to_string(),
            answer,
            injected: injected.clone(),
            seen: seen.clone(),
        }),
    );
    FaultProxy {
        endpoint,
        injected,
        seen,
    }
}

/// What a proxy does with the calls it sees. `operation` is the X-Amz-Target's part after the
/// dot (e.g. "GetRecords"), or "" for a request without one.
pub trait Intercept: Send + Sync + 'static {
    /// Answers this call here with `(HTTP status, JSON body)` instead of forwarding it.
    fn request(&self, operation: &str, body: &[u8]) -> Option<(u16, String)>;

    /// Whether [`Intercept::response`] wants this call's response. Such responses are read whole
    /// before they are passed on, so never ask for an event stream (SubscribeToShard).
    fn wants_response(&self, _operation: &str) -> bool {
        false
    }

    /// A forwarded call's response, with the request's body.
    fn response(&self, _operation: &str, _request: &[u8], _status: u16, _body: &[u8]) {}

    /// [`Intercept::request`] with the whole call in view, for the REST (Lambda) and query (IAM)
    /// protocols, whose operation is in the method and path or the form body, not in
    /// X-Amz-Target.
    fn call(&self, call: &Call<'_>) -> Option<(u16, String)> {
        self.request(call.operation, call.body)
    }

    /// A body to forward instead of the call's own (e.g. an argument the emulator does not
    /// accept, translated); the call's responses still see the original request.
    fn rewrite_request(&self, _call: &Call<'_>) -> Option<Vec<u8>> {
        None
    }

    /// [`Intercept::wants_response`] with the whole call in view.
    fn wants_call_response(&self, call: &Call<'_>) -> bool {
        self.wants_response(call.operation)
    }

    /// [`Intercept::response`] with the whole call in view; may return a body to send the client
    /// instead of the emulator's.
    fn call_response(&self, call: &Call<'_>, status: u16, body: &[u8]) -> Option<Vec<u8>> {
        self.response(call.operation, call.body, status, body);
        None
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The request target: path and query, e.g. `/2015-03-31/functions/f/configuration`.
    pub path: &'a str,
    /// X-Amz-Target's operation, or "".
    pub operation: &'a str,
    pub body: &'a [u8],
}

/// [`start_answering`]'s interception: `answer` picks among the calls of one operation.
struct OneOperation {
    operation: String,
    answer: Answer,
    injected: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
}

impl Intercept for OneOperation {
    fn request(&self, operation: &str, body: &[u8]) -> Option<(u16, String)> {
        if operation != self.operation {
            return None;
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        let answer = (self.answer)(n, body)?;
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(answer)
    }
}

/// One call a [`Recording`] saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// X-Amz-Target's operation, or "".
    pub operation: String,
    /// The request body as text; empty for uploads over [`RECORDED_BODY_LIMIT`] (function code).
    pub body: String,
}

/// Bodies larger than this are not kept: only the function's zip is, and no test reads it.
pub const RECORDED_BODY_LIMIT: usize = 1 << 20;

/// A proxy that forwards everything and records each call. One per test, so what it holds is
/// exactly what the clients pointed at it sent; moto's own recorder is global to the server and
/// appends each request as one line, which concurrent multi-megabyte uploads interleave.
pub struct Recording {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    calls: Arc<std::sync::Mutex<Vec<Recorded>>>,
}

impl Recording {
    /// The calls recorded so far, in the order they arrived.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct Recorder(Arc<std::sync::Mutex<Vec<Recorded>>>);

impl Intercept for Recorder {
    fn request(&self, _operation: &str, _body: &[u8]) -> Option<(u16, String)> {
        None
    }

    fn call(&self, call: &Call<'_>) -> Option<(u16, String)> {
        let body = if call.body.len() > RECORDED_BODY_LIMIT {
            String::new()
        } else {
            String::from_utf8_lossy(call.body).into_owned()
        };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Recorded {
                method: call.method.to_owned(),
                path: call.path.to_owned(),
                operation: call.operation.to_owned(),
                body,
            });
        None
    }
}

/// Starts a [`Recording`] proxy to `upstream`.
pub fn record(upstream: &str) -> Recording {
    let calls = Arc::default();
    let endpoint = start_with(upstream, Arc::new(Recorder(Arc::clone(&calls))));
    Recording { endpoint, calls }
}

/// Starts a proxy to `upstream` (`http://host:port`) that lets `intercept` answer or watch each
/// call; returns its endpoint, `http://127.0.0.1:PORT`. It lives as long as the test binary.
pub fn start_with(upstream: &str, intercept: Arc<dyn Intercept>) -> String {
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
    let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let upstream = upstream.clone();
            let intercept = intercept.clone();
            thread::spawn(move || {
                let _ = serve(client, &upstream, &*intercept);
            });
        }
    });
    endpoint
}

fn serve(client: TcpStream, upstream: &str, intercept: &dyn Intercept) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let server = TcpStream::connect(upstream)?;
    let mut server_reader = BufReader::new(server.try_clone()?);
    let mut server = server;
    loop {
        let Some((head, headers)) = read_head(&mut reader)? else {
            return Ok(());
        };
        let length = header(&headers, "content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let operation = header(&headers, "x-amz-target")
            .and_then(|t| t.rsplit_once('.'))
            .map_or("", |(_, op)| op)
            .to_string();
        let request_line = String::from_utf8_lossy(&head);
        let mut words = request_line.split_whitespace();
        let (method, path) = (
            words.next().unwrap_or("").to_string(),
            words.next().unwrap_or("").to_string(),
        );
        let call = Call {
            method: &method,
            path: &path,
            operation: &operation,
            body: &body,
        };
        if let Some((status, answer_body)) = intercept.call(&call) {
            write!(
                client,
                "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{}",
                answer_body.len(),
                answer_body
            )?;
            client.flush()?;
            continue;
        }
        match intercept.rewrite_request(&call) {
            Some(rewritten) => {
                server.write_all(&reframed(&head, rewritten.len()))?;
                server.write_all(&rewritten)?;
            }
            None => {
                server.write_all(&head)?;
                server.write_all(&body)?;
            }
        }
        server.flush()?;
        let Some((response_head, response_headers)) = read_head(&mut server_reader)? else {
            return Ok(());
        };
        let chunked =
            header(&response_headers, "transfer-encoding").is_some_and(|t| t.contains("chunked"));
        if intercept.wants_call_response(&call) {
            // Read it whole, show it, pass it on framed by Content-Length.
            let response = if chunked {
                read_chunked(&mut server_reader)?
            } else {
                read_sized(&mut server_reader, &response_headers)?
            };
            let status_line = String::from_utf8_lossy(&response_head);
            let status = status_line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let response = intercept
                .call_response(&call, status, &response)
                .unwrap_or(response);
            client.write_all(&reframed(&response_head, response.len()))?;
            client.write_all(&response)?;
        } else {
            client.write_all(&response_head)?;
            if chunked {
                copy_chunked(&mut server_reader, &mut client)?;
            } else {
                client.write_all(&read_sized(&mut server_reader, &response_headers)?)?;
            }
        }
        client.flush()?;
    }
}

/// A body framed by Content-Length (none: empty).
fn read_sized(reader: &mut impl BufRead, headers: &[(String, String)]) -> io::Result<Vec<u8>> {
    let length = header(headers, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// A response head with its framing headers replaced by `content-length: length`.
fn reframed(head: &[u8], length: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if name != "content-length" && name != "transfer-encoding" {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("content-length: {length}\r\n\r\n"));
    out.into_bytes()
}

/// The request or status line and headers, raw (to forward) and parsed; `None` at EOF.
/// Raw head bytes and lower-cased header name/value pairs.
type Head = (Vec<u8>, Vec<(String, String)>);

fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut headers = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        raw.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            return Ok(Some((raw, headers)));
        }
        if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A chunked body, de-chunked (trailers are not used by the SDK or the emulators).
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut framed = Vec::new();
    copy_chunked(reader, &mut framed)?;
    let mut body = Vec::new();
    let mut rest = &framed[..];
    loop {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(body);
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&rest[..end])
                .trim()
                .split(';')
                .next()
                .unwrap_or("0"),
            16,
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            return Ok(body);
        }
        let start = end + 2;
        body.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
}

fn copy_chunked(reader: &mut impl BufRead, out: &mut impl Write) -> io::Result<()> {
    loop {
        let mut size_line = Vec::new();
        reader.read_until(b'\n', &mut size_line)?;
        out.write_all(&size_line)?;
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&size_line)
                .trim()
                .split(';')
                .next()
                .unwrap_or("0"),
            16,
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        out.write_all(&chunk)?;
        if size == 0 {
            return Ok(());
        }
    }
}
