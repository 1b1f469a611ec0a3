//! Which store failures are an outage (the store cannot serve now; a retry later may succeed)
//! rather than a fault in cofre: a dropped or refused connection, a server shutting down or out
//! of resources, a full or failing disk, a lock held too long. They answer 503 with Retry-After.

/// PostgreSQL SQLSTATEs of an outage: class 08 (connection exception), 53 (insufficient
/// resources: disk full, out of memory, too many connections), the shutdowns of class 57, and
/// 25006 (read_only_sql_transaction): a write reached a standby or a primary being demoted, as
/// during a failover, until the pool follows the new primary.
fn postgres_outage(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "25006")
}

/// SQLite primary result codes of an outage: SQLITE_BUSY (5, "database is locked" past the busy
/// timeout), SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14).
fn sqlite_outage(extended_code: i64) -> bool {
    matches!(extended_code & 0xff, 5 | 6 | 10 | 13 | 14)
}

pub(super) fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => {
            let Some(code) = d.code() else { return false };
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse::<i64>().is_ok_and(sqlite_outage)
            } else {
                postgres_outage(&code)
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_classes_of_an_outage() {
        for code in ["08006", "08001", "08P01", "53100", "53300", "57P01", "57P02", "57P03", "25006"] {
            assert!(postgres_outage(code), "{code}");
        }
        for code in ["23505", "40001", "57014", "42P01", "22001", "25001"] {
            assert!(!postgres_outage(code), "{code}");
        }
    }

    #[test]
    fn sqlite_codes_of_an_outage_with_their_extended_codes() {
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE, SQLITE_FULL, SQLITE_CANTOPEN.
        for code in [5, 517, 778, 13, 14] {
            assert!(sqlite_outage(code), "{code}");
        }
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_ERROR, SQLITE_CORRUPT.
        for code in [2067, 1, 11] {
            assert!(!sqlite_outage(code), "{code}");
        }
    }
}
