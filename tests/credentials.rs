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
