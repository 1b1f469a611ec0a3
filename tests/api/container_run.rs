//! The image, built and run for real with podman: its runtime stage as the Dockerfile writes it,
//! on a Debian bookworm base made with debootstrap (no image registry is needed), serving on
//! every address inside the container, as an unprivileged user, healthy by its own check.
//!
//! Only the builder stage is replaced: compiling cofre again inside a container would take the
//! better part of CI's time, so the stage puts the cofre this test suite built where the real
//! builder installs its release build. What the real builder reads is checked by
//! `container_image.rs`.

use std::path::Path;
use std::process::{Command, Output};

use crate::container_image::{Stage, builder_and_runtime, dockerfile, root};

/// A Debian bookworm base, as debian:bookworm-slim is one, made here from Debian's archive.
const BASE: &str = "localhost/cofre-test/debian:bookworm";

/// podman with the runtime and limits this CI's machines allow: crun refuses their hybrid
/// cgroup hierarchy, and without CAP_SYS_RESOURCE podman's default limits cannot be set.
fn podman(args: &[&str]) -> Output {
    let mut command = Command::new("podman");
    command.args(["--runtime", "runc"]).args(args);
    command.output().unwrap_or_else(|e| panic!("podman {args:?}: {e}"))
}

fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(out.status.success(), "podman {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const LIMITS: [&str; 4] = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"];

/// The base image, made once per machine: debootstrap's minimal bookworm, imported.
fn base_image() {
    if podman(&["image", "exists", BASE]).status.success() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let rootfs = dir.path().join("rootfs");
    let mirror = std::env::var("COFRE_TEST_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    let made = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&rootfs)
        .arg(&mirror)
        .output()
        .expect("debootstrap runs");
    assert!(made.status.success(), "debootstrap: {}{}", text(&made.stdout), text(&made.stderr));
    let tar = dir.path().join("rootfs.tar");
    let packed = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().expect("tar");
    assert!(packed.success());
    podman_ok(&["import", tar.to_str().expect("utf-8"), BASE]);
}

/// The Dockerfile podman builds: the builder stage replaced by one holding `binary` where the
/// real one installs cofre, and the image's base by the local one; everything else verbatim.
fn test_dockerfile(stages: &[Stage]) -> (String, String) {
    let (builder, runtime) = builder_and_runtime(stages);
    let name = builder.name.clone().expect("the builder is named");
    let from = format!("--from={name} ");
    let built = runtime
        .all("COPY")
        .find_map(|args| args.strip_prefix(&from))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the image copies the binary from the builder")
        .to_owned();
    let base = runtime.base.trim_start_matches("docker.io/").trim_start_matches("library/");
    assert_eq!(base, "debian:bookworm-slim", "the base this test stands in for");
    let mut file = format!("FROM {BASE} AS {name}\nCOPY cofre {built}\n\nFROM {BASE}\n");
    for instruction in &runtime.instructions {
        file.push_str(&format!("{} {}\n", instruction.keyword, instruction.args));
    }
    (file, built)
}

/// A container and its image, removed however the test ends.
struct Running {
    container: String,
    image: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", &self.container]);
        let _ = podman(&["rmi", "--force", &self.image]);
    }
}

fn copy_into(context: &Path, source: &str) {
    let from = root().join(source);
    let to = context.join(source);
    std::fs::create_dir_all(to.parent().expect("parent")).expect("dir");
    std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_podman), ignore = "needs COFRE_TEST_PODMAN (Debian's podman, runc and debootstrap, as root)")]
async fn the_image_builds_serves_on_every_address_unprivileged_and_reports_healthy() {
    base_image();
    let stages = dockerfile();
    let (file, _) = test_dockerfile(&stages);
    let context = tempfile::tempdir().expect("context");
    std::fs::write(context.path().join("Dockerfile"), &file).expect("Dockerfile");
    std::fs::copy(env!("CARGO_BIN_EXE_cofre"), context.path().join("cofre")).expect("binary");
    let (_, runtime) = builder_and_runtime(&stages);
    for source in runtime.context_sources() {
        copy_into(context.path(), &source);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let running = Running { container: format!("cofre-test-{id}"), image: format!("localhost/cofre-test:{id}") };
    let context_dir = context.path().to_str().expect("utf-8");
    // Docker's format keeps HEALTHCHECK (OCI's has no place for it).
    let mut build = vec!["build", "--format", "docker", "--pull=never", "--layers=false", "-t", &running.image];
    build.extend_from_slice(&LIMITS);
    build.push(context_dir);
    podman_ok(&build);

    let mut run =
        vec!["run", "--detach", "--name", &running.container, "-p", "127.0.0.1::8443", "-p", "127.0.0.1::8444"];
    run.extend_from_slice(&LIMITS);
    run.push(&running.image);
    podman_ok(&run);
    let port = |inside: &str| {
        let mapped = podman_ok(&["port", &running.container, inside]);
        mapped.trim().rsplit(':').next().expect("port").parse::<u16>().expect("a port")
    };
    let (api, proxy) = (port("8443/tcp"), port("8444/tcp"));

    let _ = rustls::crypto::ring::default_provider().install_default();
    // The image's own self-signed certificate: what matters here is that the listeners answer.
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("client");
    let ready_url = format!("https://127.0.0.1:{api}/ready");
    let mut ready = None;
    for _ in 0..240 {
        match http.get(&ready_url).send().await {
            Ok(response) if response.status().is_success() => {
                ready = Some(response.text().await.expect("body"));
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
        }
    }
    let logs = || {
        let out = podman(&["logs", &running.container]);
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    };
    let ready = ready.unwrap_or_else(|| panic!("/ready never answered 200 through the published port:\n{}", logs()));
    assert!(ready.contains("\"ready\""), "{ready}");
    // The web proxy listens on every address too: reached through its published port.
    let proxied = http.get(format!("https://127.0.0.1:{proxy}/")).send().await;
    assert!(proxied.is_ok(), "the session proxy answers through its published port: {proxied:?}\n{}", logs());

    let health = podman(&["healthcheck", "run", &running.container]);
    assert!(health.status.success(), "HEALTHCHECK (cofre ready): {}{}", text(&health.stdout), text(&health.stderr));
    let uid = podman_ok(&["exec", &running.container, "id", "-u"]);
    assert_eq!(uid.trim(), "10001", "cofre runs unprivileged");
    let logs = logs();
    assert!(logs.contains("listening on https://0.0.0.0:8443"), "{logs}");
    assert!(logs.contains("session web proxy on 0.0.0.0:8444"), "{logs}");
    assert!(logs.contains("session links name localhost"), "the operator is told to name the vault: {logs}");
    drop(running);
}
