//! Whether a command may make a vault: the one place that decides. A vault is a master key file
//! and a database holding data keys wrapped by it. Only the first start of `serve` (on an empty
//! or absent data directory) and `cofre init` make one; any other command, or `serve` where part
//! of a vault is missing, is refused with what is missing before anything is written, so a
//! command run in the wrong directory, or a store whose key was moved away, never gets a new
//! (and wrong) master key or an empty database beside the real one.

use std::path::{Path, PathBuf};

use super::StartError;
use crate::config::{Config, redact_url};
use crate::store::{Store, StoreError};

/// What the command that opens the vault may do where there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// Open an existing vault, never make one: every operator command.
    Existing,
    /// `serve`: open the vault, or make one on the first start (an empty data directory).
    FirstStart,
    /// `cofre init`: make a vault, refusing a store that already holds one.
    Init,
}

/// What the command is allowed to go on with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Open the vault that is there.
    Open,
    /// Make a vault: the master key file too unless it exists (a key provided for the new vault).
    Create { key_exists: bool },
}

/// What was found where the configuration points.
struct Found {
    key: PathBuf,
    key_exists: bool,
    database: String,
    database_holds_vault: bool,
    data_dir: PathBuf,
    data_dir_empty: bool,
}

/// Looks at the data directory, the key file and the database (reading only), and says whether
/// `opening` may go on, and how; a refusal names the paths and what is missing.
pub async fn plan(config: &Config, opening: Opening) -> Result<Plan, StartError> {
    let found = look(config).await?;
    decide(&found, opening).map_err(StartError::NoVault)
}

async fn look(config: &Config) -> Result<Found, StoreError> {
    let url = config.database_url();
    let key = config.master_key_path();
    Ok(Found {
        key_exists: key.exists(),
        key,
        database_holds_vault: database_holds_vault(&url).await?,
        database: format!("the database {}", database_name(&url)),
        data_dir_empty: is_empty_dir(&config.data_dir),
        data_dir: config.data_dir.clone(),
    })
}

fn decide(f: &Found, opening: Opening) -> Result<Plan, String> {
    let key = f.key.display();
    let database = &f.database;
    match (opening, f.key_exists, f.database_holds_vault) {
        (Opening::Init, _, true) => Err(format!(
            "{database} already holds a vault (master key {key}): cofre init makes a new vault only where none is"
        )),
        (Opening::Init, key_exists, false) => Ok(Plan::Create { key_exists }),
        (_, true, true) => Ok(Plan::Open),
        (Opening::FirstStart, key_exists, false) if f.data_dir_empty => Ok(Plan::Create { key_exists }),
        (_, false, true) => Err(format!(
            "{database} holds a vault but its master key {key} is missing: put the key back there, or point \
             COFRE_MASTER_KEY_FILE at it (a new key could open nothing stored)"
        )),
        (_, true, false) => Err(format!(
            "the master key {key} is there but {database} holds no vault: point COFRE_DATABASE_URL (or \
             COFRE_DATA_DIR) at the vault's database, restore a backup with cofre restore, or run cofre init \
             to make a new database for this key"
        )),
        (Opening::FirstStart, false, false) => Err(format!(
            "no vault here, and the data directory {} is not empty: cofre serve makes a vault only on its first \
             start in an empty data directory; run cofre init to make one here, or point COFRE_DATA_DIR at the \
             vault (no master key {key}, and {database} holds none)",
            f.data_dir.display()
        )),
        (Opening::Existing, false, false) => Err(format!(
            "no vault here: no master key {key}, and {database} holds none; point COFRE_DATA_DIR (or \
             COFRE_MASTER_KEY_FILE and COFRE_DATABASE_URL) at the vault, or make one with cofre init or by \
             starting cofre serve"
        )),
    }
}

/// Asked without creating anything: an absent SQLite file is not opened (that would create it);
/// a present one counts as a vault, so it is never overwritten by a new one.
async fn database_holds_vault(url: &str) -> Result<bool, StoreError> {
    if url.starts_with("sqlite:") {
        return Ok(crate::store::sqlite_file(url).is_some_and(|file| {
            let wal = PathBuf::from(format!("{file}-wal"));
            has_bytes(Path::new(file)) || has_bytes(&wal)
        }));
    }
    let store = Store::connect(url, 1).await?;
    let holds = store.holds_vault().await;
    store.close().await;
    holds
}

fn has_bytes(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// A database as an operator names it: SQLite's file, or the URL without its password.
pub fn database_name(url: &str) -> String {
    match crate::store::sqlite_file(url) {
        Some(file) if url.starts_with("sqlite:") => file.to_owned(),
        _ => redact_url(url),
    }
}

/// Absent, or with nothing in it but a file system's `lost+found` (a mounted volume's root).
fn is_empty_dir(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().all(|e| e.file_name() == "lost+found"),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(key_exists: bool, database_holds_vault: bool, data_dir_empty: bool) -> Found {
        Found {
            key: "/d/master.key".into(),
            key_exists,
            database: "the database /d/cofre.db".into(),
            database_holds_vault,
            data_dir: "/d".into(),
            data_dir_empty,
        }
    }

    #[test]
    fn only_a_first_start_or_init_makes_a_vault() {
        use Opening::*;
        for (key, db, empty) in [(false, false, true), (true, false, true)] {
            assert_eq!(decide(&found(key, db, empty), FirstStart), Ok(Plan::Create { key_exists: key }));
            assert!(decide(&found(key, db, empty), Existing).is_err());
        }
        for opening in [Existing, FirstStart] {
            assert_eq!(decide(&found(true, true, false), opening), Ok(Plan::Open));
            assert!(
                decide(&found(false, true, false), opening)
                    .expect_err("refused")
                    .contains("master key /d/master.key is missing")
            );
            assert!(decide(&found(false, true, true), opening).is_err(), "a store without its key");
            assert!(decide(&found(true, false, false), opening).expect_err("refused").contains("holds no vault"));
            assert!(decide(&found(false, false, false), opening).is_err());
        }
        assert_eq!(decide(&found(false, false, false), Init), Ok(Plan::Create { key_exists: false }));
        assert_eq!(decide(&found(true, false, false), Init), Ok(Plan::Create { key_exists: true }));
        assert!(decide(&found(true, true, false), Init).expect_err("refused").contains("already holds a vault"));
        assert!(decide(&found(false, true, true), Init).is_err());
    }
}
