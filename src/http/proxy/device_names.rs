//! Which names a device's certificate may carry when the proxy reaches the device at its address
//! (its `ip`) rather than through its name.
//!
//! The choice: the handshake names the device as the session does — its hostname (or the
//! credential's `tls_server_name`) goes in SNI and is what the certificate is checked against,
//! as if the name had resolved to the address. A certificate that names the address connected
//! to instead (appliances often carry one for their IP) is accepted too, exactly as connecting to
//! `https://<ip>` would accept it. Nothing else changes: the chain must still verify against the
//! device's trust (the system roots, or its own `tls_ca_pem`), and a certificate for any other
//! name is refused.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

/// The WebPKI verifier, with one more name the certificate may carry: the address connected to.
#[derive(Debug)]
pub(super) struct DeviceNames {
    inner: Arc<WebPkiServerVerifier>,
    address: ServerName<'static>,
}

impl DeviceNames {
    pub(super) fn new(inner: Arc<WebPkiServerVerifier>, address: ServerName<'static>) -> Self {
        Self { inner, address }
    }
}

fn is_name_mismatch(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })
    )
}

impl ServerCertVerifier for DeviceNames {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // Only a name mismatch tries the address: an untrusted chain stays refused.
            Err(error) if is_name_mismatch(&error) => self
                .inner
                .verify_server_cert(end_entity, intermediates, &self.address, ocsp_response, now)
                .map_err(|_| error),
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
