//! Bounds on password-based key derivation whose parameters arrive with the data: encrypted
//! PKCS#8 keys (SSH keys, certificate and authority imports) and PKCS#12 files. A caller picks
//! the cost, so one request could otherwise burn a core for minutes (PBKDF2 with 2^31 iterations)
//! or make the process allocate a pebibyte and abort (scrypt N=2^40). Every check here runs
//! before any derivation does.
//!
//! The limits admit what real tools write: OpenSSL 3 (PBKDF2 and the PKCS#12 MAC at 2048
//! iterations; `-scrypt` N=2^14, r=8, p=1), Java's keytool (10,000), Windows exports (2,000 to
//! 10,000), the 600,000 that OWASP recommends for PBKDF2-HMAC-SHA256 and the 1,000,000 some
//! hardened exports use, and cofre's own key export (scrypt N=2^17, r=8: 128 MiB). One derivation
//! at the limit costs about a second of one core.

use pkcs8::pkcs5::pbes2::{self, Kdf};

/// Iterations of PBKDF2 and of the PKCS#12 key derivation (RFC 7292 appendix B), MAC included.
pub const MAX_ITERATIONS: u64 = 1_000_000;
/// scrypt's memory: 128 · r · N bytes for its table (and 128 · r · p for its blocks).
pub const MAX_SCRYPT_MEMORY: u64 = 128 << 20;
/// scrypt's p runs the whole derivation p times over.
pub const MAX_SCRYPT_PARALLELISM: u64 = 4;

/// Why a derivation was refused unrun, naming the limit (a phrase: callers say whose cost it is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TooCostly(pub String);

/// `what` names the count: "PBKDF2 iteration count", "PKCS#12 MAC iteration count".
pub fn check_iterations(what: &str, count: u64) -> Result<(), TooCostly> {
    if count > MAX_ITERATIONS {
        return Err(TooCostly(format!("{what} {count} exceeds the limit of {MAX_ITERATIONS}")));
    }
    Ok(())
}

pub fn check_scrypt(n: u64, r: u64, p: u64) -> Result<(), TooCostly> {
    if p > MAX_SCRYPT_PARALLELISM {
        return Err(TooCostly(format!("scrypt parallelism p={p} exceeds the limit p={MAX_SCRYPT_PARALLELISM}")));
    }
    let block = 128u64.saturating_mul(r);
    if block.saturating_mul(n) > MAX_SCRYPT_MEMORY || block.saturating_mul(p) > MAX_SCRYPT_MEMORY {
        // The largest N this r allows, as a power of two (r=8: N=2^17).
        let max_n = MAX_SCRYPT_MEMORY / 128 / r.max(1);
        let max_log_n = max_n.checked_ilog2().unwrap_or(0);
        return Err(TooCostly(format!(
            "scrypt cost N={} (r={r}) exceeds the limit N=2^{max_log_n} at r={r} ({} MiB of memory)",
            power_of_two(n),
            MAX_SCRYPT_MEMORY >> 20
        )));
    }
    Ok(())
}

/// PBES2 as the pkcs5 crate decrypts it: PBKDF2 or scrypt.
pub fn check_pbes2(params: &pbes2::Parameters<'_>) -> Result<(), TooCostly> {
    match &params.kdf {
        Kdf::Pbkdf2(p) => check_iterations("PBKDF2 iteration count", u64::from(p.iteration_count)),
        Kdf::Scrypt(p) => check_scrypt(p.cost_parameter, u64::from(p.block_size), u64::from(p.parallelization)),
        // pkcs5 derives with no other; one it might learn is refused until it is bounded here.
        other => Err(TooCostly(format!("key derivation {} has no limit in cofre", other.oid()))),
    }
}

fn power_of_two(n: u64) -> String {
    if n.is_power_of_two() && n > 1 { format!("2^{}", n.ilog2()) } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_admit_what_tools_write_and_name_themselves_above() {
        for iterations in [1, 2048, 10_000, 600_000, 1_000_000] {
            assert_eq!(check_iterations("PBKDF2 iteration count", iterations), Ok(()));
        }
        // OpenSSL's `-scrypt` and cofre's own export.
        assert_eq!(check_scrypt(1 << 14, 8, 1), Ok(()));
        assert_eq!(check_scrypt(1 << 17, 8, 1), Ok(()));
        let err = check_iterations("PBKDF2 iteration count", (1 << 31) - 1).expect_err("costly");
        assert_eq!(err.0, "PBKDF2 iteration count 2147483647 exceeds the limit of 1000000");
        let err = check_scrypt(1 << 40, 8, 1).expect_err("costly");
        assert_eq!(err.0, "scrypt cost N=2^40 (r=8) exceeds the limit N=2^17 at r=8 (128 MiB of memory)");
        assert!(check_scrypt(1 << 14, 8, 16).expect_err("costly").0.contains("p=16 exceeds the limit p=4"));
        assert!(check_scrypt(2, 1 << 30, 1).is_err(), "a huge r with a small N is bounded too");
        assert!(check_scrypt(u64::MAX, u64::MAX, 1).is_err(), "no overflow");
    }
}
