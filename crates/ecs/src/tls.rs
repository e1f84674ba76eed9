//! TLS for the ECS server and its client: a rustls server config from the stored key and
//! chain (TLS 1.2 and 1.3 only), and a client config that trusts exactly the stored
//! certificate, whatever name or address the server is reached by.

use std::sync::Arc;

use pki::ServingKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the configuration.
    #[error("cannot configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server config serving `key`'s chain, TLS 1.2+ with the project's one provider.
pub fn server_config(key: &ServingKey) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let resolver = rustls::sign::SingleCertAndKey::from(key.certified_key());
    let mut cfg = rustls::ServerConfig::builder_with_provider(pki::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's order of suites (strongest first), not the client's: testssl.sh rates a
    // server without a cipher order HIGH.
    cfg.ignore_client_order = true;
    Ok(Arc::new(cfg))
}

/// A client config that accepts exactly one server certificate (`pinned`, the leaf the
/// server was set up with) and checks the handshake signature against it.
pub fn client_config_pinned(
    pinned: CertificateDer<'static>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = pki::provider();
    let verifier = PinnedLeaf {
        pinned,
        provider: Arc::clone(&provider),
    };
    // ALPN is left empty: the HTTPS connector sets it.
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[derive(Debug)]
struct PinnedLeaf {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedLeaf {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
