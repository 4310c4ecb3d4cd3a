//! Prints the hash of everything the grep Lambda's bootstrap is built from, which `build.sh`
//! records in `dist/inputs.sha256` and the freshness test compares: the bootstrap's own source,
//! build script and manifest, the ktail library sources it compiles (the function's core in
//! `src/function/` and what it uses: `contract`, `retry`, `put_records`, `filter`, `kpl`), the
//! `[profile.lambda]` it is built with, and the locked versions of its dependency closure.
//! CLI-only dependencies, test modules and comments are left out, so changing them does not
//! force a rebuild of the zips.

use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The workspace root (the directory holding `Cargo.lock`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The hex SHA-256 of the bootstrap's inputs under `root`.
pub fn input_hash(root: &Path) -> String {
    let mut hasher = Sha256::new();
    for file in source_files(root) {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        let text = code(&fs::read_to_string(&file).unwrap_or_default());
        hasher.update(relative.to_string_lossy().replace('\\', "/").as_bytes());
        hasher.update([0]);
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(&text);
    }
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    hasher.update(section(&manifest, "[profile.lambda]").as_bytes());
    let lock = fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    for line in locked_closure(root, &lock) {
        hasher.update(line.as_bytes());
        hasher.update([b'\n']);
    }
    hex::encode(hasher.finalize())
}

/// What of a source file can change the binary: comment lines (docs included) and line endings
/// (Git may check out CRLF on Windows) cannot, so a reworded comment asks for no rebuild.
pub fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_end();
        if !line.trim_start().starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

pub fn source_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        root.join("lambda-artifact/Cargo.toml"),
        root.join("lambda-artifact/build.sh"),
        root.join("src/lib.rs"),
        root.join("src/contract.rs"),
        root.join("src/filter.rs"),
        root.join("src/put_records.rs"),
        root.join("src/retry.rs"),
    ];
    let kpl = root.join("src/kpl.rs");
    if kpl.exists() {
        files.push(kpl);
    }
    // The library half the function compiles (src/lib.rs without `cli`/`demo`; the artifact
    // test checks this list against it).
    for dir in ["kpl", "function", "decode", "pattern", "put_records"] {
        walk(&root.join("src").join(dir), &mut files);
    }
    walk(&root.join("lambda-artifact/src"), &mut files);
    files.sort();
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        // `tests.rs` modules are `#[cfg(test)]`: never in the bootstrap.
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            files.push(path);
        }
    }
}

/// The lines of one `[section]` of a TOML file, up to the next section.
fn section(toml: &str, header: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in toml.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == header;
        }
        if inside && !trimmed.is_empty() && !trimmed.starts_with('#') {
            out.push_str(trimmed);
            out.push('\n');
        }
    }
    out
}

/// Names of the optional dependencies that `feature` of a manifest turns on, through the
/// features it enables in turn (`dep:NAME` entries).
fn feature_dependencies(manifest: &str, feature: &str) -> Vec<String> {
    let features = section(manifest, "[features]");
    // A feature's list may span lines: join everything, then split at each `name = [`.
    let flat = features.replace('\n', " ");
    let lists: Vec<(String, Vec<String>)> = flat
        .split(']')
        .filter_map(|entry| {
            let (name, list) = entry.split_once("= [")?;
            let name = name.trim().trim_start_matches(',').trim().to_owned();
            let items = list
                .split(',')
                .map(|item| item.trim().trim_matches('"').to_owned())
                .filter(|item| !item.is_empty())
                .collect();
            Some((name, items))
        })
        .collect();
    let mut wanted = vec![feature.to_owned()];
    let mut deps = Vec::new();
    let mut seen = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for (_, items) in lists.iter().filter(|(n, _)| *n == name) {
            for item in items {
                match item.strip_prefix("dep:") {
                    Some(dep) => deps.push(dep.to_owned()),
                    None => wanted.push(item.clone()),
                }
            }
        }
    }
    deps
}

/// Names of the non-optional entries of a manifest's `[dependencies]`.
fn required_dependencies(manifest: &str) -> Vec<String> {
    section(manifest, "[dependencies]")
        .lines()
        .skip(1)
        .filter(|line| !line.contains("optional = true"))
        .filter_map(|line| line.split(['=', '.']).next())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

struct Package {
    name: String,
    version: String,
    checksum: String,
    dependencies: Vec<String>,
}

fn parse_lock(lock: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| {
                    l.strip_prefix(key)?
                        .trim()
                        .strip_prefix('=')
                        .map(|v| v.trim().trim_matches('"').to_owned())
                })
                .unwrap_or_default()
        };
        let dependencies = block
            .split_once("dependencies = [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(list, _)| {
                list.lines()
                    .map(|l| l.trim().trim_end_matches(',').trim_matches('"').to_owned())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        packages.push(Package {
            name: field("name "),
            version: field("version "),
            checksum: field("checksum "),
            dependencies,
        });
    }
    packages
}

/// `name version checksum` of every locked package the bootstrap links, sorted.
pub fn locked_closure(root: &Path, lock: &str) -> BTreeSet<String> {
    let packages = parse_lock(lock);
    let read = |p: &str| fs::read_to_string(root.join(p)).unwrap_or_default();
    // The two workspace crates are entered through their manifests, not the lock: the lock lists
    // ktail's optional CLI dependencies and both crates' dev-dependencies, which the bootstrap never links.
    let mut queue: VecDeque<String> =
        required_dependencies(&read("lambda-artifact/Cargo.toml")).into();
    queue.extend(required_dependencies(&read("Cargo.toml")));
    // The bootstrap builds the library with its `function` feature.
    queue.extend(feature_dependencies(&read("Cargo.toml"), "function"));
    let mut seen = BTreeSet::new();
    let mut closure = BTreeSet::new();
    while let Some(reference) = queue.pop_front() {
        // A lock reference is `name`, `name version` or `name version (source)`.
        let mut parts = reference.split_whitespace();
        let name = parts.next().unwrap_or_default().to_owned();
        let version = parts.next().map(str::to_owned);
        if name == "ktail" || !seen.insert((name.clone(), version.clone())) {
            continue;
        }
        for package in packages
            .iter()
            .filter(|p| p.name == name && version.as_ref().is_none_or(|v| *v == p.version))
        {
            if closure.insert(format!(
                "{} {} {}",
                package.name, package.version, package.checksum
            )) {
                queue.extend(package.dependencies.iter().cloned());
            }
        }
    }
    closure
}

#[allow(dead_code)]
fn main() {
    println!("{}", input_hash(&workspace_root()));
}
