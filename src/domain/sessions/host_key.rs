//! SSH host keys as cofre pins them: the OpenSSH public key line without its comment, and its
//! SHA-256 fingerprint as `ssh-keygen -l` prints it.

use ssh_key::{HashAlg, PublicKey};

/// A host key in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostKey {
    /// `ssh-ed25519 AAAA…` (no comment).
    pub line: String,
    /// `SHA256:…`.
    pub fingerprint: String,
}

impl HostKey {
    /// An OpenSSH public key line (`TYPE BASE64 [COMMENT]`), as `ssh-keyscan` or a
    /// `known_hosts` entry without its host field give it.
    pub fn parse(line: &str) -> Result<Self, &'static str> {
        let key = PublicKey::from_openssh(line.trim())
            .map_err(|_| "The host key is not an OpenSSH public key line (TYPE BASE64, e.g. ssh-ed25519 AAAA…).")?;
        Self::of(&key)
    }

    fn of(key: &PublicKey) -> Result<Self, &'static str> {
        let mut bare = key.clone();
        bare.set_comment("");
        let line = bare.to_openssh().map_err(|_| "The host key cannot be written in OpenSSH form.")?;
        Ok(Self { line: line.trim().to_owned(), fingerprint: key.fingerprint(HashAlg::Sha256).to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHK7xj3qiDeV0Fj1OQ2Xg7cA7b9fw0aWz8j4YtHpPz0e";

    #[test]
    fn lines_are_canonical_and_fingerprinted() {
        let a = HostKey::parse(&format!("{KEY} root@host")).expect("parses");
        let b = HostKey::parse(&format!("  {KEY}\n")).expect("parses");
        assert_eq!(a, b);
        assert_eq!(a.line, KEY);
        assert!(a.fingerprint.starts_with("SHA256:"), "{}", a.fingerprint);
        assert!(HostKey::parse("not a key").is_err());
    }
}
