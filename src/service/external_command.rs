//! Commands cofre runs on an operator's behalf (rotation, certificate publication).
//!
//! They get a clean environment: cofre's own holds the database URL, key file paths and whatever
//! else its operator set, none of which a device script needs or should see.

/// Variables a script may reasonably rely on; everything else is dropped.
const KEPT: [&str; 5] = ["PATH", "HOME", "LANG", "TZ", "TMPDIR"];

/// `program args…` with only [`KEPT`] carried over from cofre's environment; callers add the
/// job's own `COFRE_*` variables.
pub fn scrubbed(program: &str, args: &[String]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command.args(args).env_clear();
    for name in KEPT {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}
