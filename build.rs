//! Rebuild when a migration changes: `sqlx::migrate!` embeds them at compile time.
//!
//! The API suite's tests that need PostgreSQL (`COFRE_TEST_POSTGRES_URL`), the Python signers
//! (`COFRE_TEST_PYTHON`), OpenSSH's sshd (`COFRE_TEST_SSHD`), Chromium's driver
//! (`COFRE_TEST_CHROMEDRIVER`), Patroni with etcd (`COFRE_TEST_PATRONI`), the right to mount a
//! small filesystem (`COFRE_TEST_MOUNT`, root) or podman with debootstrap (`COFRE_TEST_PODMAN`,
//! root) are compiled as ignored when those are not set, so
//! a local run reports them as skipped rather than passed; `.ci/run` sets them all and fails on
//! any ignored test.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo::rustc-check-cfg=cfg(cofre_test_postgres)");
    println!("cargo::rustc-check-cfg=cfg(cofre_test_python)");
    println!("cargo::rustc-check-cfg=cfg(cofre_test_sshd)");
    println!("cargo::rustc-check-cfg=cfg(cofre_test_browser)");
    println!("cargo::rustc-check-cfg=cfg(cofre_test_mount)");
    println!("cargo::rustc-check-cfg=cfg(cofre_test_patroni)");
    println!("cargo::rustc-check-cfg=cfg(cofre_test_podman)");
    for (var, cfg) in [
        ("COFRE_TEST_POSTGRES_URL", "cofre_test_postgres"),
        ("COFRE_TEST_PYTHON", "cofre_test_python"),
        ("COFRE_TEST_SSHD", "cofre_test_sshd"),
        ("COFRE_TEST_CHROMEDRIVER", "cofre_test_browser"),
        ("COFRE_TEST_MOUNT", "cofre_test_mount"),
        ("COFRE_TEST_PATRONI", "cofre_test_patroni"),
        ("COFRE_TEST_PODMAN", "cofre_test_podman"),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}
