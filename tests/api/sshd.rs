//! A real OpenSSH server (Debian's `/usr/sbin/sshd`, installed by `.ci/run`) on a loopback port,
//! in a temporary directory of its own, for the gateway's end-to-end tests. It logs in the local
//! account `cofre-ssh-test` by password (set once per test process to a random value) or by the
//! keys authorized in its own file. Tests run as root in CI, which these need.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const SSHD_USER: &str = "cofre-ssh-test";

/// The account's password: made and set once per test process, so concurrent tests agree.
fn account_password() -> &'static str {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    PASSWORD.get_or_init(|| {
        let exists = Command::new("id").arg(SSHD_USER).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !exists.expect("id runs").success() {
            let made = Command::new("useradd").args(["--create-home", "--shell", "/bin/sh", SSHD_USER]).status();
            assert!(made.expect("useradd runs").success(), "useradd {SSHD_USER} (the sshd tests run as root)");
        }
        let password = cofre::crypto::random_hex(16).to_string();
        let mut chpasswd = Command::new("chpasswd").stdin(Stdio::piped()).spawn().expect("chpasswd runs");
        let line = format!("{SSHD_USER}:{password}\n");
        chpasswd.stdin.take().expect("stdin").write_all(line.as_bytes()).expect("written");
        assert!(chpasswd.wait().expect("chpasswd ends").success(), "chpasswd");
        password
    })
}

pub struct Sshd {
    pub port: u16,
    pub user: &'static str,
    pub password: &'static str,
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success(), "ssh-keygen");
}

impl Sshd {
    pub fn start() -> Self {
        let password = account_password();
        let dir = tempfile::tempdir().expect("tempdir");
        // sshd reads the authorized keys as the user: the folder must be open to it.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        std::fs::create_dir_all("/run/sshd").expect("privilege separation folder");
        keygen(&dir.path().join("host_key"));
        std::fs::write(dir.path().join("authorized_keys"), "").expect("authorized keys");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let config = format!(
            "ListenAddress 127.0.0.1:{port}\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\nUsePAM no\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nAllowTcpForwarding no\n\
             AllowAgentForwarding no\nX11Forwarding no\nPermitRootLogin no\nAllowUsers {SSHD_USER}\n\
             LogLevel ERROR\nSubsystem sftp internal-sftp\n",
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("sshd_config"), config).expect("config");
        let mut sshd = Self { port, user: SSHD_USER, password, child: Self::spawn(dir.path()), dir };
        sshd.wait_until_listening();
        sshd
    }

    fn spawn(dir: &Path) -> Child {
        let sshd = std::env::var("COFRE_TEST_SSHD").unwrap_or_else(|_| "/usr/sbin/sshd".into());
        Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts")
    }

    fn wait_until_listening(&mut self) {
        let since = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sshd exited: {status}");
            }
            assert!(since.elapsed() < Duration::from_secs(10), "sshd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Lets the holder of `public_key` (an OpenSSH line) log in.
    pub fn authorize_key(&self, public_key: &str) {
        let mut file = std::fs::OpenOptions::new().append(true).open(self.path("authorized_keys")).expect("open");
        writeln!(file, "{}", public_key.trim()).expect("written");
    }

    /// The server's host key, as an OpenSSH public key line.
    pub fn host_public_key(&self) -> String {
        std::fs::read_to_string(self.path("host_key.pub")).expect("host key").trim().to_owned()
    }

    /// Restarts on the same port with a new host key: what a rebuilt (or impersonated) device shows.
    pub fn change_host_key(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for name in ["host_key", "host_key.pub"] {
            let _ = std::fs::remove_file(self.path(name));
        }
        keygen(&self.path("host_key"));
        self.child = Self::spawn(self.dir.path());
        self.wait_until_listening();
    }
}
