//! Checks on the committed zips in `lambda-artifact/dist/`: built from the current inputs, small
//! enough, and runnable on `provided.al2023`.

#[path = "../examples/input_hash.rs"]
mod input_hash;

use std::io::Read;
use std::path::PathBuf;

const REBUILD: &str = "bash lambda-artifact/build.sh";
const ARCHES: [&str; 2] = ["arm64", "x86_64"];

fn dist() -> PathBuf {
    input_hash::workspace_root().join("lambda-artifact/dist")
}

fn zip(arch: &str) -> Vec<u8> {
    let path = dist().join(format!("ktail-grep-{arch}.zip"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; build it with `{REBUILD}`", path.display()))
}

#[test]
fn zips_were_built_from_the_current_inputs() {
    let recorded = std::fs::read_to_string(dist().join("inputs.sha256")).unwrap_or_default();
    let current = input_hash::input_hash(&input_hash::workspace_root());
    assert_eq!(
        recorded.trim(),
        current,
        "the grep Lambda's sources, manifest or locked dependencies changed since lambda-artifact/dist \
         was built: run `{REBUILD}` and commit lambda-artifact/dist"
    );
}

/// Every module of the library half the function compiles (those of src/lib.rs not behind the
/// `cli` or `demo` features) is among the hashed inputs, so changing any of them makes the zips
/// stale: src/decode and src/pattern once were not.
#[test]
fn the_input_hash_covers_every_module_the_function_compiles() {
    let root = input_hash::workspace_root();
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("src/lib.rs");
    let inputs = input_hash::source_files(&root);
    let mut cli_only = false;
    for line in lib.lines().map(str::trim) {
        if line.starts_with("#[cfg(") {
            cli_only = line.contains("\"cli\"") || line.contains("\"demo\"");
            continue;
        }
        let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        if std::mem::take(&mut cli_only) {
            continue;
        }
        let file = root.join("src").join(format!("{name}.rs"));
        let dir = root.join("src").join(name);
        assert!(
            inputs.contains(&file) || inputs.iter().any(|f| f.starts_with(&dir)),
            "src/{name} is compiled into the grep function but not hashed in examples/input_hash.rs"
        );
        if dir.is_dir() {
            let hashed = inputs.iter().filter(|f| f.starts_with(&dir)).count();
            let rust = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
                        .count()
                })
                .unwrap_or(0);
            assert!(hashed > 0 || rust == 0, "src/{name}/ is not hashed");
        }
    }
}

#[test]
fn zips_are_at_most_5_mb() {
    for arch in ARCHES {
        let size = zip(arch).len();
        assert!(
            size <= 5 * 1024 * 1024,
            "ktail-grep-{arch}.zip is {size} bytes, over 5 MB"
        );
    }
}

/// provided.al2023 has glibc 2.34: no symbol of the bootstrap may need a newer one. The ELF
/// version-needs name every glibc version the binary requires as a `GLIBC_2.N` string.
#[test]
fn bootstraps_need_at_most_glibc_2_34() {
    for arch in ARCHES {
        let bootstrap = bootstrap(arch);
        assert!(
            bootstrap.starts_with(b"\x7fELF"),
            "{arch}: bootstrap is not an ELF file"
        );
        let machine = u16::from_le_bytes([bootstrap[18], bootstrap[19]]);
        let expected = if arch == "arm64" { 183 } else { 62 };
        assert_eq!(machine, expected, "{arch}: wrong ELF machine");
        let versions = glibc_versions(&bootstrap);
        assert!(
            !versions.is_empty(),
            "{arch}: no GLIBC_ version found; is it dynamically linked?"
        );
        let newest = versions.iter().max().copied().unwrap_or_default();
        assert!(
            newest <= (2, 34),
            "{arch}: bootstrap needs GLIBC_{}.{}, newer than 2.34",
            newest.0,
            newest.1
        );
    }
}

#[test]
fn glibc_versions_are_found() {
    let found = glibc_versions(b"\0GLIBC_2.17\0GLIBC_2.34\0GLIBC_2.2.5\0GLIBC_PRIVATE\0");
    assert_eq!(found, vec![(2, 17), (2, 34), (2, 2)]);
}

fn glibc_versions(binary: &[u8]) -> Vec<(u32, u32)> {
    let needle = b"GLIBC_";
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = binary[i..].windows(needle.len()).position(|w| w == needle) {
        let start = i + at + needle.len();
        let end = binary[start..]
            .iter()
            .position(|&b| b == 0)
            .map_or(binary.len(), |n| start + n);
        let text = String::from_utf8_lossy(&binary[start..end]);
        let mut parts = text.split('.');
        if let (Some(Ok(major)), Some(Ok(minor))) =
            (parts.next().map(str::parse), parts.next().map(str::parse))
        {
            found.push((major, minor));
        }
        i = start;
    }
    found
}

/// The `bootstrap` entry of a zip, through Python's zipfile (no zip crate needed for one test).
fn bootstrap(arch: &str) -> Vec<u8> {
    let path = dist().join(format!("ktail-grep-{arch}.zip"));
    let python = std::env::var("KTAIL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('bootstrap'))",
        ])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to read the zip");
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "could not read bootstrap from {}",
        path.display()
    );
    out
}

/// The closure follows what the bootstrap links, not what the CLI or the tests use, so updating a
/// CLI-only crate does not ask for a rebuild.
#[test]
fn input_hash_covers_the_function_dependencies_only() {
    let root = input_hash::workspace_root();
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let closure = input_hash::locked_closure(&root, &lock);
    let names: Vec<&str> = closure.iter().filter_map(|l| l.split(' ').next()).collect();
    for linked in [
        "lambda_runtime",
        "aws_lambda_events",
        "aws-sdk-kinesis",
        "aws-sdk-lambda",
        "regex",
        "prost",
        "md-5",
        "tokio",
        "hyper",
    ] {
        assert!(
            names.contains(&linked),
            "{linked} missing from the hashed closure"
        );
    }
    for not_linked in [
        "clap",
        "indicatif",
        "dialoguer",
        "aws-config",
        "aws-sdk-iam",
        "criterion",
        "ferrokinesis",
        "proptest",
    ] {
        assert!(
            !names.contains(&not_linked),
            "{not_linked} should not be in the hashed closure"
        );
    }
}

#[test]
fn comments_and_line_endings_do_not_count() {
    assert_eq!(
        input_hash::code("fn a() {}\r\n    // why\n//! doc\n/// doc\nlet b = 1;  \n"),
        "fn a() {}\nlet b = 1;\n"
    );
    assert_ne!(
        input_hash::code("let b = 1;"),
        input_hash::code("let b = 2;")
    );
}
