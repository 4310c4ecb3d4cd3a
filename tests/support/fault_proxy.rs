//! A fault-injecting HTTP/1.1 proxy in front of an emulator: it answers chosen Kinesis calls with
//! an error (e.g. ProvisionedThroughputExceededException on GetRecords) and forwards the rest, so
//! tests can prove that ktail rides out what no emulator produces on demand.
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
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
    let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
    let injected = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let target = format!(".{operation}");
    {
        let injected = injected.clone();
        let seen = seen.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let upstream = upstream.clone();
                let (injected, seen, answer) = (injected.clone(), seen.clone(), answer.clone());
                let target = target.clone();
                thread::spawn(move || {
                    let _ = serve(client, &upstream, &target, &answer, &injected, &seen);
                });
            }
        });
    }
    FaultProxy {
        endpoint,
        injected,
        seen,
    }
}

fn serve(
    client: TcpStream,
    upstream: &str,
    target: &str,
    answer: &Answer,
    injected: &AtomicUsize,
    seen: &AtomicUsize,
) -> io::Result<()> {
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
        let targeted = header(&headers, "x-amz-target").is_some_and(|t| t.ends_with(target));
        if targeted {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            if let Some((status, answer_body)) = answer(n, &body) {
                injected.fetch_add(1, Ordering::SeqCst);
                write!(
                    client,
                    "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{}",
                    answer_body.len(),
                    answer_body
                )?;
                client.flush()?;
                continue;
            }
        }
        server.write_all(&head)?;
        server.write_all(&body)?;
        server.flush()?;
        let Some((response_head, response_headers)) = read_head(&mut server_reader)? else {
            return Ok(());
        };
        client.write_all(&response_head)?;
        if header(&response_headers, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            copy_chunked(&mut server_reader, &mut client)?;
        } else {
            let length = header(&response_headers, "content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            server_reader.read_exact(&mut body)?;
            client.write_all(&body)?;
        }
        client.flush()?;
    }
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
