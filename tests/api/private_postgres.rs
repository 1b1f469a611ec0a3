//! A PostgreSQL cluster of a test's own, in a temporary directory on a free port: tests that stop
//! the server or make its commits hang must not touch the shared one other tests use. Stopped and
//! deleted when dropped.

use std::path::PathBuf;
use std::process::Command;

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

/// The binaries of the newest installed PostgreSQL (Debian's layout). Their absence fails the
/// test: `.ci/run` installs them.
pub(crate) fn postgres_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok).map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().expect("initdb and pg_ctl under /usr/lib/postgresql/*/bin (install postgresql)")
}

pub(crate) fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl PrivatePostgres {
    /// initdb and start a cluster (trust auth, loopback only, its socket in its own directory).
    pub fn start() -> Self {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("tempdir");
        // PostgreSQL refuses to run as root: as root, the cluster belongs to `postgres`.
        if is_root() {
            let chowned = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().expect("chown");
            assert!(chowned.success(), "chown the cluster's directory to postgres");
        }
        let port = crate::crash::free_port();
        let cluster = Self { dir, bin, port };
        cluster.run("initdb", &["-D", &cluster.data(), "-U", "postgres", "--auth=trust", "-N", "-E", "UTF8"]);
        cluster.pg_ctl("start");
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// A PostgreSQL binary, run as `postgres` when this is root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        }
    }

    /// Runs a PostgreSQL binary; panics with its output on failure.
    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap_or_else(|e| panic!("{program} runs: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &options, "-w", "-m", "immediate", action]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server: nothing listens on its port any more.
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&self) {
        self.pg_ctl("start");
    }

    /// Runs `sql` on the cluster in a connection of its own.
    pub async fn execute(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.url()).await.expect("private cluster reachable");
        sqlx::raw_sql(sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        pool.close().await;
    }

    /// Makes every commit that wrote something wait for a synchronous standby that never comes:
    /// the server accepts connections and answers reads, and writes hang.
    pub async fn hang_commits(&self) {
        self.execute("ALTER SYSTEM SET synchronous_standby_names = 'absent'").await;
        self.execute("SELECT pg_reload_conf()").await;
        // Each backend reads the new setting before its next command.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "-w", "stop"]).output();
    }
}
