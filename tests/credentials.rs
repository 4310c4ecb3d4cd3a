//! Credentials from a profile rather than the environment: `credential_process` and SSO. Both
//! need aws-config features (`credentials-process`, `sso`) that the workspace names one by one,
//! since the SDK's default features are off (one TLS stack).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ktail_testkit::{self as support, Emulator, run_ktail, unique_name};

const T: Duration = Duration::from_secs(60);

/// A fresh directory for HOME and the AWS `config` file, so that nothing else is cached there.
fn aws_home(prefix: &str) -> PathBuf {
    let dir = support::target_tmp().join(unique_name(prefix));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `emu.ktail()` with credentials only from `home/config`: none in the environment.
fn ktail_with_profiles(emu: &Emulator, home: &Path) -> Command {
    let mut cmd = emu.ktail();
    cmd.env("AWS_CONFIG_FILE", home.join("config"))
        .env("HOME", home)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd
}

#[test]
fn a_profile_s_credential_process_signs_the_calls() {
    let emu = support::ferrokinesis();
    let home = aws_home("credential-process");
    let called = home.join("called");
    let process = home.join("credentials.sh");
    fs::write(
        &process,
        format!(
            "#!/bin/sh\ntouch '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"process\"}}'\n",
            called.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&process, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        home.join("config"),
        format!(
            "[profile tools]\nregion = us-east-1\ncredential_process = {}\n",
            process.display()
        ),
    )
    .unwrap();

    let mut cmd = ktail_with_profiles(&emu, &home);
    cmd.args(["--profile", "tools", "ls"]);
    run_ktail(cmd, T).assert_success();
    assert!(called.exists(), "ktail never ran the credential_process");
}

/// A loopback SSO portal that hands out role credentials for any request, recording the method
/// and path of each with its bearer token.
fn sso_portal() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let mut token = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if request.is_empty() {
                    // "GET /path HTTP/1.1": the method and the path.
                    request = line
                        .split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ");
                } else if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("x-amz-sso_bearer_token")
                {
                    token = value.trim().to_owned();
                }
                line.clear();
            }
            log.lock().unwrap().push(format!("{request} token={token}"));
            let body = r#"{"roleCredentials":{"accessKeyId":"AKIDSSO","secretAccessKey":"sso","sessionToken":"sso","expiration":4102444800000}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (endpoint, seen)
}

#[test]
fn an_sso_profile_gets_role_credentials_with_the_cached_token() {
    let emu = support::ferrokinesis();
    let (portal, seen) = sso_portal();
    let home = aws_home("sso");
    fs::write(
        home.join("config"),
        "[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://example.awsapps.com/start\n",
    )
    .unwrap();
    // What `aws sso login` leaves: the token, cached under the SHA-1 of the session name
    // (`printf corp | sha1sum`).
    let cache = home.join(".aws/sso/cache");
    fs::create_dir_all(&cache).unwrap();
    fs::write(
        cache.join("ee0bfd2552fbd840c02cc48b6e823320543c450f.json"),
        r#"{"accessToken":"cached-token","expiresAt":"2099-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://example.awsapps.com/start"}"#,
    )
    .unwrap();

    let mut cmd = ktail_with_profiles(&emu, &home);
    cmd.env("AWS_ENDPOINT_URL_SSO", &portal)
        .args(["--profile", "corp", "ls"]);
    run_ktail(cmd, T).assert_success();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "GET /federation/credentials?role_name=ReadOnly&account_id=123456789012 token=cached-token"
        ],
        "the SSO portal's requests"
    );
}

// ---- issue 12 item 11: the errors a new user meets first ---------------------------------------
// Each runs the binary with a scrubbed environment (nothing but PATH, HOME pointing at a fresh
// directory, the region, a loopback endpoint, no instance metadata) and checks that the failure
// is one line that says what to do, with its own exit code.

/// An endpoint where nothing listens.
const NOWHERE: &str = "http://127.0.0.1:9";

fn scrubbed(home: &Path) -> Command {
    let mut cmd = Command::new(support::ktail_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", NOWHERE)
        .stdin(std::process::Stdio::null());
    cmd
}

/// The one `ktail:` line of a run that failed with `code`, which must be all of stderr.
fn one_line(out: &support::Output, code: i32) -> String {
    out.assert_code(code);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.starts_with("ktail: "), "{}", out.stderr);
    out.stderr.trim_end().to_owned()
}

/// No credentials anywhere: the SDK's provider-chain dump ("dispatch failure: other: … no
/// credentials found in chain. Attempted: …", six lines) becomes one line with what to run; exit 3.
#[test]
fn no_credentials_say_how_to_get_some() {
    let home = aws_home("no-credentials");
    let line = one_line(
        &run_ktail(
            {
                let mut cmd = scrubbed(&home);
                cmd.arg("ls");
                cmd
            },
            T,
        ),
        3,
    );
    for hint in [
        "no AWS credentials",
        "aws configure",
        "AWS_PROFILE",
        "aws sso login",
    ] {
        assert!(line.contains(hint), "{hint}: {line}");
    }
    assert!(!line.contains("Attempted"), "{line}");
}

/// A profile that does not exist is named, with where ktail looked and how to create it; the
/// SDK used to report what instance metadata said instead.
#[test]
fn a_missing_profile_is_named() {
    let home = aws_home("missing-profile");
    let mut cmd = scrubbed(&home);
    cmd.env("AWS_PROFILE", "nosuch").arg("ls");
    let line = one_line(&run_ktail(cmd, T), 3);
    assert!(line.contains("\"nosuch\""), "{line}");
    assert!(line.contains("aws configure --profile nosuch"), "{line}");
    assert!(
        line.contains(&home.join(".aws/config").display().to_string()),
        "{line}"
    );
    assert!(!line.contains("IMDS"), "{line}");
}

/// An SSO profile whose cached token has expired: run `aws sso login`.
#[test]
fn an_expired_sso_session_says_aws_sso_login() {
    let home = aws_home("sso-expired");
    fs::write(
        home.join("config"),
        "[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://example.awsapps.com/start\n",
    )
    .unwrap();
    let cache = home.join(".aws/sso/cache");
    fs::create_dir_all(&cache).unwrap();
    fs::write(
        cache.join("ee0bfd2552fbd840c02cc48b6e823320543c450f.json"),
        r#"{"accessToken":"old-token","expiresAt":"2001-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://example.awsapps.com/start"}"#,
    )
    .unwrap();
    let mut cmd = scrubbed(&home);
    cmd.env("AWS_CONFIG_FILE", home.join("config"))
        .args(["--profile", "corp", "ls"]);
    let line = one_line(&run_ktail(cmd, T), 3);
    assert!(line.contains("aws sso login"), "{line}");
    assert!(line.contains("expired"), "{line}");
}

/// A DNS failure names the endpoint that could not be reached (`.invalid` never resolves, and
/// the lookup never leaves the machine); exit 5.
#[test]
fn a_dns_failure_names_the_endpoint() {
    let home = aws_home("dns");
    let mut cmd = scrubbed(&home);
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", "http://nonexistent.invalid:4566")
        .arg("ls");
    let line = one_line(&run_ktail(cmd, T), 5);
    assert!(
        line.contains("cannot reach http://nonexistent.invalid:4566"),
        "{line}"
    );
    assert!(line.contains("check your network"), "{line}");
}

/// Access denied names the permission and the resource (as IAM's message does) and what to do;
/// exit 4. The proxy answers ListStreams as AWS does for a user without `kinesis:ListStreams`.
#[test]
fn access_denied_names_the_permission_and_the_resource() {
    let emu = support::ferrokinesis();
    let message = "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: \
                   kinesis:ListStreams on resource: arn:aws:kinesis:us-east-1:123456789012:stream/* \
                   because no identity-based policy allows the kinesis:ListStreams action";
    let body =
        serde_json::json!({"__type": "AccessDeniedException", "message": message}).to_string();
    let proxy = ktail_testkit::fault_proxy::start_answering(
        &emu.endpoint,
        "ListStreams",
        Arc::new(move |_, _| Some((400, body.clone()))),
    );
    let home = aws_home("denied");
    let mut cmd = scrubbed(&home);
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .arg("ls");
    let line = one_line(&run_ktail(cmd, T), 4);
    for part in [
        "access denied",
        "kinesis:ListStreams",
        "arn:aws:kinesis:us-east-1:123456789012:stream/*",
        "arn:aws:iam::123456789012:user/dev",
        "IAM permissions",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
}
