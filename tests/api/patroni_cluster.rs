//! A PostgreSQL HA cluster of a test's own, from Debian's packages: one etcd and two PostgreSQL
//! instances managed by Patroni in synchronous mode, in a temporary directory on free ports, run
//! as `postgres` when this is root. Every process is killed when the cluster is dropped, and
//! their logs are printed if the test panicked.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::crash::free_port;
use crate::private_postgres::{is_root, postgres_bin};

/// Leader lease and loop: short, so a lost primary is replaced in seconds, not the default 30 s.
const TTL_SECS: u64 = 6;

pub struct Node {
    pub name: String,
    pub pg_port: u16,
    pub api_port: u16,
    patroni: Option<Child>,
}

pub struct PatroniCluster {
    dir: tempfile::TempDir,
    etcd: Child,
    etcd_port: u16,
    pub nodes: Vec<Node>,
    http: reqwest::Client,
}

impl PatroniCluster {
    /// etcd, then `pg1` (which bootstraps and leads), then `pg2` (cloned from it); returns once
    /// `pg1` leads and `pg2` is its synchronous standby.
    pub async fn start() -> Self {
        // reqwest is built without a default TLS provider; the tests use the server's (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            let chowned = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().expect("chown");
            assert!(chowned.success(), "chown the cluster's directory to postgres");
        }
        let etcd_port = free_port();
        let etcd = spawn_logged(etcd_command(dir.path(), etcd_port), &dir.path().join("etcd.log"));
        let nodes = ["pg1", "pg2"]
            .map(|name| Node { name: name.into(), pg_port: free_port(), api_port: free_port(), patroni: None })
            .into();
        let mut cluster = Self { dir, etcd, etcd_port, nodes, http };
        cluster.wait_until_ok(etcd_port, "/health", "etcd answers", Duration::from_secs(20)).await;
        cluster.start_node(0);
        let leader = cluster.nodes[0].api_port;
        cluster.wait_until_ok(leader, "/primary", "pg1 leads and takes writes", Duration::from_secs(40)).await;
        cluster.start_node(1);
        let standby = cluster.nodes[1].api_port;
        cluster.wait_until_ok(standby, "/sync", "pg2 is the synchronous standby", Duration::from_secs(40)).await;
        cluster
    }

    fn start_node(&mut self, index: usize) {
        let node = &self.nodes[index];
        let config = self.dir.path().join(format!("{}.yml", node.name));
        std::fs::write(&config, self.patroni_config(node)).expect("write patroni.yml");
        let patroni = std::env::var("COFRE_TEST_PATRONI").unwrap_or_else(|_| "/usr/bin/patroni".into());
        let mut command = Command::new(patroni);
        command.arg(&config).env("HOME", self.dir.path());
        as_postgres(&mut command);
        let log = self.dir.path().join(format!("{}.log", node.name));
        self.nodes[index].patroni = Some(spawn_logged(command, &log));
    }

    fn patroni_config(&self, node: &Node) -> String {
        let dir = self.dir.path().display();
        let bin = postgres_bin().display().to_string();
        let (name, pg, api, etcd) = (&node.name, node.pg_port, node.api_port, self.etcd_port);
        format!(
            r#"scope: cofre-failover
name: {name}
restapi:
  listen: 127.0.0.1:{api}
  connect_address: 127.0.0.1:{api}
etcd3:
  hosts: 127.0.0.1:{etcd}
bootstrap:
  dcs:
    ttl: {TTL_SECS}
    loop_wait: 1
    retry_timeout: 2
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: false
      pg_hba:
      - host replication replicator 127.0.0.1/32 trust
      - host all all 127.0.0.1/32 trust
      - local all all trust
  initdb:
  - encoding: UTF8
  - auth: trust
postgresql:
  listen: 127.0.0.1:{pg}
  connect_address: 127.0.0.1:{pg}
  data_dir: {dir}/{name}
  bin_dir: {bin}
  pgpass: {dir}/{name}.pgpass
  authentication:
    replication: {{username: replicator, password: replicator}}
    superuser: {{username: postgres, password: postgres}}
  parameters:
    unix_socket_directories: {dir}
"#
        )
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres` for node `index`.
    pub fn url(&self, index: usize) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.nodes[index].pg_port)
    }

    /// What a node's machine dying looks like to the rest: its Patroni, its postmaster and every
    /// PostgreSQL process under it are killed at once (SIGKILL), nothing shut down cleanly.
    pub fn kill_node(&mut self, index: usize) {
        if let Some(mut patroni) = self.nodes[index].patroni.take() {
            let _ = patroni.kill();
            let _ = patroni.wait();
        }
        let data = self.dir.path().join(&self.nodes[index].name);
        if let Some(postmaster) = postmaster_pid(&data) {
            let mut pids = children_of(postmaster);
            pids.push(postmaster);
            let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
            let _ = Command::new("kill").arg("-9").args(&pids).stderr(Stdio::null()).status();
        }
    }

    /// Whether GET `path` on a local port answers 200 (Patroni's role checks, etcd's health).
    pub async fn get_ok(&self, port: u16, path: &str) -> bool {
        let request = self.http.get(format!("http://127.0.0.1:{port}{path}")).timeout(Duration::from_secs(2));
        request.send().await.is_ok_and(|r| r.status().is_success())
    }

    /// Polls GET `path` on `port` every 200 ms until it answers 200; fails naming `what` after `limit`.
    pub async fn wait_until_ok(&self, port: u16, path: &str, what: &str, limit: Duration) {
        let started = Instant::now();
        while !self.get_ok(port, path).await {
            assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn logs(&self) -> Vec<PathBuf> {
        let mut logs = vec![self.dir.path().join("etcd.log")];
        logs.extend(self.nodes.iter().map(|n| self.dir.path().join(format!("{}.log", n.name))));
        logs
    }
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.kill_node(index);
        }
        let _ = self.etcd.kill();
        let _ = self.etcd.wait();
        if std::thread::panicking() {
            for log in self.logs() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("--- last lines of {} ---", log.display());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

fn etcd_command(dir: &Path, port: u16) -> Command {
    let peer = free_port();
    let (client, peer) = (format!("http://127.0.0.1:{port}"), format!("http://127.0.0.1:{peer}"));
    let mut command = Command::new("/usr/bin/etcd");
    command
        .args(["--name", "etcd", "--data-dir"])
        .arg(dir.join("etcd"))
        .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("etcd={peer}"), "--initial-cluster-state", "new"]);
    command
}

/// PostgreSQL refuses to run as root: as root, Patroni (and the PostgreSQL it starts) runs as
/// `postgres`, without root's groups.
fn as_postgres(command: &mut Command) {
    if !is_root() {
        return;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().expect("id postgres");
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("the postgres account exists")
    };
    std::os::unix::process::CommandExt::uid(command, id("-u"));
    std::os::unix::process::CommandExt::gid(command, id("-g"));
}

fn spawn_logged(mut command: Command, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    let err = file.try_clone().expect("log file");
    command.stdin(Stdio::null()).stdout(file).stderr(err);
    command.spawn().unwrap_or_else(|e| panic!("{command:?} starts: {e}"))
}

/// The running postmaster of the data directory `data`: the pid its `postmaster.pid` names, if
/// that process is still the postmaster of `data` (the file outlives a killed server, and its pid
/// may since be another process's).
fn postmaster_pid(data: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let data = data.display().to_string();
    command.split(|b| *b == 0).any(|arg| arg == data.as_bytes()).then_some(pid)
}

/// The processes whose parent is `parent` (a postmaster's backends and workers).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The parent is the second field after the command, which is in parentheses.
            let after_command = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after_command.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent)
        })
        .collect()
}
