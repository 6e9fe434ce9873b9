//! The TLS side of an outgoing client: a rustls config built from
//! `tls_config` as Go's `crypto/tls` would use it.
//!
//! - A configured CA (`ca` or `ca_file`) is the only trust root, as Go's
//!   `RootCAs`; without one, the platform's trust store is used.
//! - `server_name` is the name the server's certificate is verified
//!   against instead of the URL's host (kube-prometheus sets it for the API
//!   server, scraped by IP). The SNI sent is still the URL's host when that
//!   is a DNS name (none for an IP), where Go sends `server_name`.
//! - `insecure_skip_verify` skips the certificate checks; handshake
//!   signatures are still verified.
//! - rustls speaks TLS 1.2 and 1.3 only: a `max_version` below 1.2 is
//!   refused when the client is built.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{HttpClientError, client_error, read_file};
use crate::config::http_client::{TlsConfig, TlsVersion};

fn inline_or_file(
    inline: &str,
    file: &str,
    what: &str,
) -> Result<Option<Vec<u8>>, HttpClientError> {
    if !inline.is_empty() {
        Ok(Some(inline.as_bytes().to_vec()))
    } else if !file.is_empty() {
        read_file(file, what).map(Some)
    } else {
        Ok(None)
    }
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, HttpClientError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| client_error(format!("invalid {what}: {error}")))?;
    if certificates.is_empty() {
        return Err(client_error(format!(
            "invalid {what}: no PEM certificate found"
        )));
    }
    Ok(certificates)
}

/// The rustls config for `tls`, offering HTTP/2 by ALPN when `http2`.
pub(super) fn client_config(
    tls: &TlsConfig,
    http2: bool,
) -> Result<rustls::ClientConfig, HttpClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let offered = [
        (TlsVersion::TLS12, &rustls::version::TLS12),
        (TlsVersion::TLS13, &rustls::version::TLS13),
    ];
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = offered
        .iter()
        .filter(|(version, _)| tls.min_version.is_none_or(|min| *version >= min))
        .filter(|(version, _)| tls.max_version.is_none_or(|max| *version <= max))
        .map(|(_, version)| *version)
        .collect();
    if versions.is_empty() {
        return Err(client_error(
            "tls_config: max_version below TLS12 cannot be offered (promshard speaks TLS 1.2 and 1.3)",
        ));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|error| client_error(format!("tls_config: {error}")))?;

    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(SkipCertificateChecks(provider.clone()))
    } else {
        let inner: Arc<dyn ServerCertVerifier> =
            match inline_or_file(&tls.ca, &tls.ca_file, "ca_file")? {
                Some(pem) => {
                    let mut roots = rustls::RootCertStore::empty();
                    for certificate in certificates(&pem, "CA certificate")? {
                        roots
                            .add(certificate)
                            .map_err(|e| client_error(format!("invalid CA certificate: {e}")))?;
                    }
                    rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|error| client_error(format!("invalid CA certificate: {error}")))?
                }
                None => Arc::new(
                    rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|error| {
                        client_error(format!("cannot load the system trust store: {error}"))
                    })?,
                ),
            };
        if tls.server_name.is_empty() {
            inner
        } else {
            let name = ServerName::try_from(tls.server_name.clone()).map_err(|error| {
                client_error(format!(
                    "tls_config: invalid server_name {:?}: {error}",
                    tls.server_name
                ))
            })?;
            Arc::new(VerifyAgainstName { inner, name })
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let certificate = inline_or_file(&tls.cert, &tls.cert_file, "cert_file")?;
    let mut config = match certificate {
        Some(pem) => {
            let chain = certificates(&pem, "client certificate")?;
            let key_pem = inline_or_file(tls.key.expose(), &tls.key_file, "key_file")?
                .ok_or_else(|| client_error("tls_config: a client certificate needs a key"))?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|error| client_error(format!("invalid client key: {error}")))?;
            builder.with_client_auth_cert(chain, key).map_err(|error| {
                client_error(format!("invalid client certificate or key: {error}"))
            })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// Verifies the certificate against a configured name (`server_name`)
/// rather than the one the connection was made to.
#[derive(Debug)]
struct VerifyAgainstName {
    inner: Arc<dyn ServerCertVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for VerifyAgainstName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate, any name; the handshake's
/// signatures are still checked.
#[derive(Debug)]
struct SkipCertificateChecks(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipCertificateChecks {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
