//! Why a session failed: one word for the session row, the session records and the audit record
//! of its end, and one line for the user. Shared by the web proxy and the SSH gateway, so both
//! say the same of the same cause. Never an address, a path, a secret: only the kind of failure.

/// The kind of failure that ended a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureCause {
    /// The device's name (its hostname, when it has no `ip`) did not resolve.
    NameNotResolved,
    /// The device's address answered the connection with a refusal (nothing listens there).
    ConnectionRefused,
    /// The device did not answer (connection or handshake) in time.
    Timeout,
    /// No route to the device's address, or another connection error.
    Unreachable,
    /// The TLS handshake failed: an untrusted certificate, or one for another name.
    Tls,
    /// The device's trust setting (`tls_ca_pem`) is unusable.
    TrustSettings,
    /// `target_networks` does not allow the device's address (or it is one of cofre's own).
    AddressNotAllowed,
    /// The device broke off or answered something that is not its protocol (HTTP, SSH).
    Protocol,
    /// The device refused the vaulted credential (SSH).
    LoginRefused,
    /// The device's SSH host key changed or could not be checked.
    HostKey,
    /// The credential is no longer available (unlinked, disabled, unreadable).
    Credential,
    /// The credential's session settings cannot be used (a header template that does not render).
    Settings,
    /// The device answered with the injected credential in it.
    CredentialEchoed,
    /// The device answered in an encoding the echo guard cannot read.
    UnreadableAnswer,
    /// The session could not be recorded (SSH).
    Recording,
    /// The command asked for is not allowed (SSH).
    CommandRefused,
}

impl FailureCause {
    /// The stored word (`failure` column, records, audit).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NameNotResolved => "name_not_resolved",
            Self::ConnectionRefused => "connection_refused",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Tls => "tls",
            Self::TrustSettings => "trust_settings",
            Self::AddressNotAllowed => "address_not_allowed",
            Self::Protocol => "protocol",
            Self::LoginRefused => "login_refused",
            Self::HostKey => "host_key",
            Self::Credential => "credential_unavailable",
            Self::Settings => "session_settings",
            Self::CredentialEchoed => "credential_echoed",
            Self::UnreadableAnswer => "unreadable_answer",
            Self::Recording => "recording",
            Self::CommandRefused => "command_refused",
        }
    }

    /// What happened, as a phrase for a sentence the user reads.
    pub fn message(self) -> &'static str {
        match self {
            Self::NameNotResolved => "the device's name could not be resolved",
            Self::ConnectionRefused => "the connection was refused",
            Self::Timeout => "the device did not answer in time",
            Self::Unreachable => "the device's address cannot be reached",
            Self::Tls => {
                "the TLS handshake with the device failed (its certificate is not trusted, or names another host)"
            }
            Self::TrustSettings => "the device's trust settings are not usable",
            Self::AddressNotAllowed => "cofre may not connect to the device's address",
            Self::Protocol => "the device's answer broke off or was not understood",
            Self::LoginRefused => "the device refused the vaulted credential",
            Self::HostKey => "the device's SSH host key could not be trusted",
            Self::Credential => "the session's credential is not available",
            Self::Settings => "the credential's session settings are not usable",
            Self::CredentialEchoed => "the device's answer held the session's credential",
            Self::UnreadableAnswer => "the device answered in an encoding cofre cannot check",
            Self::Recording => "the session could not be recorded",
            Self::CommandRefused => "the command is not allowed for this credential",
        }
    }

    /// The cause of an I/O error met while connecting.
    pub fn of_io(kind: std::io::ErrorKind) -> Self {
        use std::io::ErrorKind;
        match kind {
            ErrorKind::ConnectionRefused => Self::ConnectionRefused,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Self::Timeout,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof => Self::Protocol,
            _ => Self::Unreachable,
        }
    }
}

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_name_their_cause() {
        assert_eq!(FailureCause::of_io(std::io::ErrorKind::ConnectionRefused), FailureCause::ConnectionRefused);
        assert_eq!(FailureCause::of_io(std::io::ErrorKind::TimedOut), FailureCause::Timeout);
        assert_eq!(FailureCause::of_io(std::io::ErrorKind::HostUnreachable), FailureCause::Unreachable);
        assert_eq!(FailureCause::ConnectionRefused.as_str(), "connection_refused");
    }
}
