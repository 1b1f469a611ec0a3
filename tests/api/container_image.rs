//! The container image: its Dockerfile copies every file the build reads into the builder stage
//! (found from the sources, so a new `include_bytes!`, `include_str!`, migration directory or
//! build script is caught the day it appears), and its runtime stage runs cofre as it must run
//! in a container. `podman.rs` builds that stage and runs it for real.

use std::path::{Path, PathBuf};

/// One instruction of a Dockerfile: its keyword (upper case) and its arguments.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

/// One stage: its base image, its name, its instructions.
#[derive(Debug, Clone)]
pub struct Stage {
    pub base: String,
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.instructions.iter().filter(move |i| i.keyword == keyword).map(|i| i.args.as_str())
    }

    /// The sources of its `COPY` instructions that read the build context (not another stage).
    pub fn context_sources(&self) -> Vec<String> {
        self.all("COPY")
            .filter(|args| !args.starts_with("--from="))
            .flat_map(|args| {
                let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                words[..words.len() - 1].iter().map(|w| normalized(w)).collect::<Vec<_>>()
            })
            .collect()
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The stages of the Dockerfile `text`: continuation lines joined, comments dropped.
pub fn stages(text: &str) -> Vec<Stage> {
    let mut joined: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && !open) {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (trimmed, false),
        };
        if open {
            let last = joined.last_mut().expect("an instruction");
            last.push(' ');
            last.push_str(body);
        } else {
            joined.push(body.to_owned());
        }
        open = continues;
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in joined {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (keyword, args) = (keyword.to_ascii_uppercase(), args.trim().to_owned());
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
            let name = (words.len() == 3 && words[1].eq_ignore_ascii_case("as")).then(|| words[2].to_owned());
            stages.push(Stage { base: words[0].to_owned(), name, instructions: Vec::new() });
        } else if keyword != "ARG" || !stages.is_empty() {
            stages.last_mut().expect("FROM first").instructions.push(Instruction { keyword, args });
        }
    }
    stages
}

/// `./src/` → `src`; `.` → ``.
fn normalized(path: &str) -> String {
    path.trim_start_matches("./").trim_end_matches('/').trim_start_matches('.').to_owned()
}

/// Every file or directory (relative to the manifest) that `cargo build --bin cofre` reads.
fn build_inputs() -> Vec<String> {
    let root = root();
    let mut inputs = vec!["Cargo.toml".to_owned(), "Cargo.lock".to_owned(), "src".to_owned()];
    let manifest: toml::Table =
        std::fs::read_to_string(root.join("Cargo.toml")).expect("manifest").parse().expect("toml");
    let package = manifest["package"].as_table().expect("package");
    match package.get("build").and_then(|b| b.as_str()) {
        Some(script) => inputs.push(script.to_owned()),
        None if root.join("build.rs").exists() => inputs.push("build.rs".to_owned()),
        None => {}
    }
    for bin in manifest.get("bin").and_then(|b| b.as_array()).into_iter().flatten() {
        if let Some(path) = bin.get("path").and_then(|p| p.as_str()) {
            inputs.push(path.to_owned());
        }
    }
    if let Some(path) = manifest.get("lib").and_then(|l| l.get("path")).and_then(|p| p.as_str()) {
        inputs.push(path.to_owned());
    }
    if root.join("build.rs").exists() {
        let script = std::fs::read_to_string(root.join("build.rs")).expect("build.rs");
        for watched in script.split("rerun-if-changed=").skip(1) {
            inputs.push(watched.split(['"', '\\']).next().expect("a path").to_owned());
        }
    }
    for file in rust_files(&root.join("src")) {
        let text = std::fs::read_to_string(&file).expect("source");
        let dir = file.parent().expect("dir");
        for (marker, base) in [
            ("include_bytes!(\"", dir),
            ("include_str!(\"", dir),
            ("include!(\"", dir),
            ("#[path = \"", dir),
            ("sqlx::migrate!(\"", root.as_path()),
        ] {
            for rest in text.split(marker).skip(1) {
                let target = rest.split('"').next().expect("a path");
                inputs.push(relative(&root, &base.join(target)));
            }
        }
    }
    inputs.sort();
    inputs.dedup();
    inputs
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `path` relative to `root`, `..` resolved.
fn relative(root: &Path, path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.strip_prefix(root).expect("inside the repository").components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

/// Whether `path` is `source` or lies under it.
fn covers(source: &str, path: &str) -> bool {
    source.is_empty() || path == source || path.starts_with(&format!("{source}/"))
}

/// Whether a `.dockerignore` pattern leaves `path` (or a directory above it) out of the context.
fn ignored(pattern: &str, path: &str) -> bool {
    let pattern = normalized(pattern);
    let parts: Vec<&str> = path.split('/').collect();
    (1..=parts.len()).any(|n| glob(&pattern, &parts[..n].join("/")))
}

/// `*` matches within one path segment, `**` across segments.
fn glob(pattern: &str, text: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix("**") {
        return (0..=text.len()).filter(|&i| text.is_char_boundary(i)).any(|i| glob(rest, &text[i..]));
    }
    if let Some(rest) = pattern.strip_prefix('*') {
        let limit = text.find('/').unwrap_or(text.len());
        return (0..=limit).any(|i| glob(rest, &text[i..]));
    }
    match (pattern.chars().next(), text.chars().next()) {
        (None, None) => true,
        (Some(p), Some(t)) if p == t || p == '?' && t != '/' => glob(&pattern[p.len_utf8()..], &text[t.len_utf8()..]),
        _ => false,
    }
}

pub fn dockerfile() -> Vec<Stage> {
    stages(&std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile"))
}

/// The stage that runs `cargo build`, and the last stage (the image).
pub fn builder_and_runtime(stages: &[Stage]) -> (&Stage, &Stage) {
    let builder = stages.iter().find(|s| s.all("RUN").any(|r| r.contains("cargo build"))).expect("a stage builds");
    (builder, stages.last().expect("a stage"))
}

#[test]
fn the_builder_stage_copies_every_file_the_build_reads() {
    let stages = dockerfile();
    let (builder, _) = builder_and_runtime(&stages);
    let copied = builder.context_sources();
    let inputs = build_inputs();
    for expected in ["build.rs", "assets/xterm/xterm.js", "migrations/sqlite", "config/cofre.toml"] {
        assert!(inputs.iter().any(|i| i == expected), "the sources name {expected}: {inputs:?}");
    }
    let missing: Vec<&String> = inputs.iter().filter(|i| !copied.iter().any(|c| covers(c, i))).collect();
    assert!(missing.is_empty(), "the build reads {missing:?}, which the builder stage does not COPY ({copied:?})");
    for input in &inputs {
        assert!(root().join(input).exists(), "{input} is in the repository");
    }
}

#[test]
fn the_build_context_keeps_every_file_the_image_copies() {
    let stages = dockerfile();
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap_or_default();
    let patterns: Vec<&str> =
        ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!')).collect();
    assert!(patterns.contains(&"target"), "the target directory stays out of the context: {patterns:?}");
    let mut needed = build_inputs();
    needed.extend(stages.iter().flat_map(Stage::context_sources));
    for path in &needed {
        if let Some(pattern) = patterns.iter().find(|p| ignored(p, path)) {
            panic!("{path} is copied into the image but .dockerignore's {pattern:?} leaves it out of the context");
        }
    }
    assert!(ignored("*.cofre-backup", "x.cofre-backup") && !ignored("*.cofre-backup", "src/x.rs"));
    assert!(ignored("target", "target/debug/cofre") && !ignored("target", "targets.rs"));
}

#[test]
fn the_image_runs_cofre_unprivileged_on_every_address_with_a_health_check() {
    let stages = dockerfile();
    assert!(stages.len() >= 2, "multi-stage: the toolchain stays out of the image");
    let (builder, runtime) = builder_and_runtime(&stages);
    assert!(!std::ptr::eq(builder, runtime), "the image is not the builder");
    // What the issue found missing first (the session proxy on 127.0.0.1, no health check), then
    // the user and where the binary comes from.
    let env: Vec<&str> = runtime.all("ENV").flat_map(str::split_whitespace).collect();
    for listener in ["COFRE_LISTEN=0.0.0.0:8443", "COFRE_PROXY_LISTEN=0.0.0.0:8444"] {
        assert!(env.contains(&listener), "{listener}: {env:?}");
    }
    let exposed: Vec<&str> = runtime.all("EXPOSE").flat_map(str::split_whitespace).collect();
    assert!(exposed.contains(&"8443") && exposed.contains(&"8444"), "{exposed:?}");
    let health = runtime.all("HEALTHCHECK").last().expect("a HEALTHCHECK");
    assert!(health.contains("CMD [\"/usr/local/bin/cofre\", \"ready\"]"), "{health}");
    assert!(runtime.all("ENTRYPOINT").any(|e| e.contains("/usr/local/bin/cofre")));

    let user = runtime.all("USER").last().expect("a USER");
    let uid = user.split(':').next().expect("uid");
    assert!(uid != "root" && uid != "0", "not root: {user}");
    assert!(uid.parse::<u32>().is_ok(), "a numeric uid, which runAsNonRoot can check: {user}");

    let binary = runtime
        .all("COPY")
        .find_map(|args| args.strip_prefix(&format!("--from={} ", builder.name.as_deref().expect("named"))))
        .expect("the image takes the binary from the builder");
    let built = binary.split_whitespace().next().expect("a path");
    assert!(builder.all("RUN").any(|r| r.contains(built)), "the builder puts the binary at {built}");
}

#[test]
fn the_check_catches_a_builder_that_misses_the_assets_or_the_build_script() {
    // The builder stage of the Dockerfile before this test: neither assets/ nor build.rs.
    let old = "FROM rust:1-bookworm AS build\nWORKDIR /src\nCOPY Cargo.toml Cargo.lock rustfmt.toml ./\n\
               COPY src ./src\nCOPY migrations ./migrations\nCOPY config ./config\nCOPY tests ./tests\n\
               RUN cargo build --release --locked --bin cofre\n\nFROM debian:bookworm-slim\n";
    let stages = stages(old);
    let (builder, _) = builder_and_runtime(&stages);
    let copied = builder.context_sources();
    let missing: Vec<String> = build_inputs().into_iter().filter(|i| !copied.iter().any(|c| covers(c, i))).collect();
    assert!(
        missing.contains(&"build.rs".to_owned()) && missing.iter().any(|m| m.starts_with("assets/")),
        "{missing:?}"
    );
}
