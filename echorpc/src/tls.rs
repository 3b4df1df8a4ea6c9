//! TLS for both ends (feature `tls`, on by default): what a client trusts when it dials
//! `wss://`, and the certificate a server presents. Built on rustls with the `ring` provider;
//! the rustls crate is re-exported as [`rustls`] for full configurations.
//!
//! ```
//! use echorpc::tls::{ClientTls, ServerTls};
//!
//! // A client that trusts Mozilla's roots (and the platform's, with `tls-native-roots`) plus a
//! // private CA; a server from a PEM chain and key. Bad PEM is an error, never a panic.
//! assert!(ClientTls::new().with_root_pem(b"not a certificate").is_err());
//! assert!(ServerTls::from_pem(b"", b"").is_err());
//! ```

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

pub use tokio_rustls::rustls;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS configuration that cannot be used: an unreadable file, PEM without what it should
/// hold, a certificate that is not a valid root, or a key that does not fit the certificate.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TlsError {
    message: String,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl TlsError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    fn because(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }
}

fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|err| {
        TlsError::because(format!("cannot read {what} {}: {err}", path.display()), err)
    })
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::because(format!("invalid PEM in {what}: {err}"), err))?;
    if certs.is_empty() {
        return Err(TlsError::new(format!(
            "no certificate (-----BEGIN CERTIFICATE-----) in {what}"
        )));
    }
    Ok(certs)
}

/// The roots every client trusts unless given a full rustls config: Mozilla's (webpki-roots),
/// and with the `tls-native-roots` feature the platform's too.
fn default_roots() -> RootCertStore {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    #[cfg(feature = "tls-native-roots")]
    let roots = {
        let mut roots = roots;
        let found = rustls_native_certs::load_native_certs();
        for err in &found.errors {
            tracing::warn!(%err, "could not load some of the platform's root certificates");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "platform root certificates loaded");
        roots
    };
    roots
}

/// What a client trusts when it dials `wss://`: by default Mozilla's root certificates (and the
/// platform's with the `tls-native-roots` feature), plus any root added with
/// [`with_root_pem`](Self::with_root_pem) (a self-signed certificate or a private CA); or a
/// whole rustls [`ClientConfig`](rustls::ClientConfig) given with
/// [`from_rustls`](Self::from_rustls).
///
/// Server names are verified, IP addresses too (`wss://127.0.0.1:…` needs an IP-address
/// subject alternative name in the server's certificate).
#[derive(Clone)]
pub struct ClientTls {
    source: ClientSource,
}

#[derive(Clone)]
enum ClientSource {
    Roots(RootCertStore),
    Config(Arc<rustls::ClientConfig>),
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            ClientSource::Roots(roots) => f
                .debug_struct("ClientTls")
                .field("roots", &roots.len())
                .finish(),
            ClientSource::Config(_) => f.write_str("ClientTls(rustls::ClientConfig)"),
        }
    }
}

impl Default for ClientTls {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientTls {
    /// The default roots (see the type's docs).
    pub fn new() -> Self {
        Self {
            source: ClientSource::Roots(default_roots()),
        }
    }

    /// Trusts no root at all until one is added with [`with_root_pem`](Self::with_root_pem):
    /// for a client that should reach only servers of a private CA.
    pub fn empty() -> Self {
        Self {
            source: ClientSource::Roots(RootCertStore::empty()),
        }
    }

    /// A whole rustls client configuration, used as given (its roots, client certificates,
    /// ALPN, verifier).
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> Self {
        Self {
            source: ClientSource::Config(config),
        }
    }

    /// Also trusts every certificate in `pem` as a root.
    ///
    /// # Errors
    /// When `pem` holds no certificate, bad PEM, or a certificate rustls cannot use as a root;
    /// and on a `ClientTls` made [`from_rustls`](Self::from_rustls) (add roots to that config).
    pub fn with_root_pem(self, pem: &[u8]) -> Result<Self, TlsError> {
        self.add_roots(pem, "the root certificate PEM")
    }

    /// [`with_root_pem`](Self::with_root_pem) with the PEM read from a file.
    ///
    /// # Errors
    /// As for [`with_root_pem`](Self::with_root_pem), and when the file cannot be read.
    pub fn with_root_pem_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let pem = read_file(path, "root certificate file")?;
        self.add_roots(&pem, &format!("root certificate file {}", path.display()))
    }

    fn add_roots(self, pem: &[u8], what: &str) -> Result<Self, TlsError> {
        let ClientSource::Roots(mut roots) = self.source else {
            return Err(TlsError::new(
                "cannot add a root to a full rustls client config: add it to that config",
            ));
        };
        for cert in certificates(pem, what)? {
            roots.add(cert).map_err(|err| {
                TlsError::because(
                    format!("{what} holds a certificate that is not a usable root: {err}"),
                    err,
                )
            })?;
        }
        Ok(Self {
            source: ClientSource::Roots(roots),
        })
    }

    /// The rustls configuration dials use.
    pub(crate) fn config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        match &self.source {
            ClientSource::Config(config) => Ok(Arc::clone(config)),
            ClientSource::Roots(roots) => {
                let config = rustls::ClientConfig::builder_with_provider(crypto())
                    .with_safe_default_protocol_versions()
                    .map_err(|err| TlsError::because("no usable TLS protocol version", err))?
                    .with_root_certificates(roots.clone())
                    .with_no_client_auth();
                Ok(Arc::new(config))
            }
        }
    }
}

/// The configuration of clients built without [`ClientTls`], made once per process.
pub(crate) fn default_client_config() -> Result<Arc<rustls::ClientConfig>, TlsError> {
    static DEFAULT: OnceLock<Result<Arc<rustls::ClientConfig>, TlsError>> = OnceLock::new();
    DEFAULT.get_or_init(|| ClientTls::new().config()).clone()
}

/// The certificate a server presents: a PEM chain (leaf first, then intermediates, all sent to
/// clients) and its private key, or a whole rustls [`ServerConfig`](rustls::ServerConfig).
///
/// Set it with [`ServerBuilder::tls`](crate::ServerBuilder::tls); the listener then serves
/// `wss://` only.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// From a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1).
    ///
    /// # Errors
    /// When either holds no usable item, or the key does not fit the certificate.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        Self::build(
            chain,
            key,
            "the certificate chain PEM",
            "the private key PEM",
        )
    }

    /// [`from_pem`](Self::from_pem) with both read from files.
    ///
    /// # Errors
    /// As for [`from_pem`](Self::from_pem), and when a file cannot be read.
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        let chain_pem = read_file(chain, "certificate file")?;
        let key_pem = read_file(key, "private key file")?;
        Self::build(
            &chain_pem,
            &key_pem,
            &format!("certificate file {}", chain.display()),
            &format!("private key file {}", key.display()),
        )
    }

    /// A whole rustls server configuration, used as given.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        Self { config }
    }

    fn build(chain: &[u8], key: &[u8], chain_what: &str, key_what: &str) -> Result<Self, TlsError> {
        let chain = certificates(chain, chain_what)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|err| match err {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::new(format!(
                "no private key (-----BEGIN … PRIVATE KEY-----) in {key_what}"
            )),
            err => TlsError::because(format!("invalid PEM in {key_what}: {err}"), err),
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(crypto())
            .with_safe_default_protocol_versions()
            .map_err(|err| TlsError::because("no usable TLS protocol version", err))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|err| {
                TlsError::because(
                    format!("{chain_what} and {key_what} do not make a usable certificate: {err}"),
                    err,
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}
