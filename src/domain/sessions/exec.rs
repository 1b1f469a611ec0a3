//! Commands through the SSH gateway (`ssh host 'command'`, an SSH exec request): refused unless
//! the credential's `session_settings` allow them, and never a file transfer in disguise. SFTP's
//! subsystem is refused outright, so the programs that move files over an exec (what `sftp -s
//! PATH`, legacy `scp -O` and rsync run on the far side) are refused even where commands are
//! allowed. Naming is all that is checked: a user allowed to run commands can still move bytes
//! with `cat`, so allow commands only where that is acceptable.

use serde_json::{Map, Value};

/// The `session_settings` key that allows commands: `{"ssh_exec": true}`.
pub const EXEC_SETTING: &str = "ssh_exec";

/// The programs that transfer files over an exec.
const FILE_TRANSFER_PROGRAMS: [&str; 4] = ["sftp-server", "internal-sftp", "scp", "rsync"];

/// How much of a command line an audit record holds.
pub const AUDITED_COMMAND_CHARS: usize = 1024;

/// How a command ended, as the device reported it: an exit status, or the signal that ended it
/// (neither when the session was cut first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exit {
    pub status: Option<u32>,
    pub signal: Option<String>,
}

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecRefusal {
    /// The credential's settings do not allow commands.
    NotAllowed,
    /// The command runs a file-transfer program.
    FileTransfer,
}

impl ExecRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAllowed => "commands not allowed",
            Self::FileTransfer => "file transfer",
        }
    }

    /// The line the user reads.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotAllowed => {
                "Commands (ssh host 'command', scp, sftp) are not allowed on this session; \
                 connect without a command for a recorded shell."
            }
            Self::FileTransfer => "File transfers (SFTP, scp, rsync) are not allowed on this session.",
        }
    }
}

/// Whether `command` may run on a session whose credential has `settings`.
pub fn check(settings: Option<&Map<String, Value>>, command: &[u8]) -> Result<(), ExecRefusal> {
    if !allowed(settings) {
        return Err(ExecRefusal::NotAllowed);
    }
    if is_file_transfer(command) {
        return Err(ExecRefusal::FileTransfer);
    }
    Ok(())
}

fn allowed(settings: Option<&Map<String, Value>>) -> bool {
    match settings.and_then(|s| s.get(EXEC_SETTING)) {
        Some(Value::Bool(on)) => *on,
        Some(Value::String(on)) => on == "true",
        _ => false,
    }
}

/// Whether any word of the command line names a file-transfer program (by its path or bare
/// name). Quotes and backslashes are dropped first, as the shell drops them (`s""cp` is scp).
pub fn is_file_transfer(command: &[u8]) -> bool {
    let text: String = String::from_utf8_lossy(command).chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect();
    text.split(|c: char| c.is_whitespace() || ";&|()<>`$={}".contains(c)).any(|word| {
        let program = word.rsplit('/').next().unwrap_or(word);
        FILE_TRANSFER_PROGRAMS.contains(&program)
    })
}

/// The command line as an audit record holds it: text, cut at `AUDITED_COMMAND_CHARS`; true
/// when it was cut.
pub fn audited_command(command: &[u8]) -> (String, bool) {
    let text = String::from_utf8_lossy(command);
    let cut = text.chars().count() > AUDITED_COMMAND_CHARS;
    (text.chars().take(AUDITED_COMMAND_CHARS).collect(), cut)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn commands_are_refused_unless_allowed() {
        assert_eq!(check(None, b"true"), Err(ExecRefusal::NotAllowed));
        assert_eq!(check(Some(&settings(json!({}))), b"true"), Err(ExecRefusal::NotAllowed));
        assert_eq!(check(Some(&settings(json!({"ssh_exec": false}))), b"true"), Err(ExecRefusal::NotAllowed));
        assert_eq!(check(Some(&settings(json!({"ssh_exec": "yes"}))), b"true"), Err(ExecRefusal::NotAllowed));
        assert_eq!(check(Some(&settings(json!({"ssh_exec": true}))), b"true"), Ok(()));
        assert_eq!(check(Some(&settings(json!({"ssh_exec": "true"}))), b"true"), Ok(()));
    }

    #[test]
    fn file_transfers_are_found_however_they_are_spelled() {
        for line in [
            "/usr/lib/openssh/sftp-server",
            "scp -t /tmp",
            "scp -f /etc/passwd",
            "exec /usr/lib/sftp-server -e",
            "sh -c 'scp -t x'",
            "s\"\"cp -t x",
            "s\\cp -t x",
            "LANG=C scp -t .",
            "rsync --server -e.LsfxC . /tmp",
            "true;internal-sftp",
        ] {
            assert!(is_file_transfer(line.as_bytes()), "{line}");
        }
        for line in ["echo hello; exit 3", "ls /usr/lib/openssh", "scpx", "cat scp.log"] {
            assert!(!is_file_transfer(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn long_command_lines_are_cut_for_the_audit() {
        let (text, cut) = audited_command("é".repeat(AUDITED_COMMAND_CHARS + 1).as_bytes());
        assert!(cut);
        assert_eq!(text.chars().count(), AUDITED_COMMAND_CHARS);
        assert_eq!(audited_command(b"echo hi"), ("echo hi".into(), false));
    }
}
