//! TLS for an HTTP source: a certificate chain and key read from PEM
//! files, and read again when either file changes (checked at most once a
//! second, as connections arrive), so a renewed certificate is served
//! without a restart. A renewal that does not load keeps the one before,
//! with a warning.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where a source's certificate and key are (Vector's names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM, the server's own certificate first.
    pub crt_file: PathBuf,
    /// Its private key, PEM (PKCS #8, PKCS #1 or SEC1).
    pub key_file: PathBuf,
}

/// How often the files are looked at for a change.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The TLS configuration a new connection is served with, kept current
/// with the files.
pub(crate) struct TlsReloader {
    files: TlsFiles,
    state: Mutex<Loaded>,
}

struct Loaded {
    config: Arc<ServerConfig>,
    stamp: Option<(SystemTime, SystemTime)>,
    checked: Instant,
}

impl TlsReloader {
    /// Loads the files now: a certificate or key that does not load is an
    /// error here, before the source listens.
    pub(crate) fn new(files: TlsFiles) -> Result<Self, String> {
        let stamp = stamp(&files);
        let config = load(&files)?;
        Ok(Self {
            files,
            state: Mutex::new(Loaded {
                config,
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// The configuration for a connection arriving now, after reading the
    /// files again if they changed.
    pub(crate) fn current(&self) -> Arc<ServerConfig> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() >= CHECK_EVERY {
            state.checked = Instant::now();
            let now = stamp(&self.files);
            if now != state.stamp {
                match load(&self.files) {
                    Ok(config) => {
                        tracing::info!(
                            "TLS certificate {} reloaded",
                            self.files.crt_file.display()
                        );
                        state.config = config;
                        state.stamp = now;
                    }
                    Err(why) => {
                        // Kept, and not retried until the files change again.
                        state.stamp = now;
                        tracing::warn!("TLS certificate not reloaded, the one before stays: {why}");
                    }
                }
            }
        }
        state.config.clone()
    }
}

/// When each file last changed.
fn stamp(files: &TlsFiles) -> Option<(SystemTime, SystemTime)> {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    Some((modified(&files.crt_file)?, modified(&files.key_file)?))
}

fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let unreadable = |path: &Path, what: &str, e: pem::Error| match e {
        pem::Error::Io(e) => format!("cannot read {}: {e}", path.display()),
        _ => format!(
            "{} holds no readable PEM {what} (\"-----BEGIN …-----\" to \"-----END …-----\")",
            path.display()
        ),
    };
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.crt_file)
        .and_then(|certs| certs.collect())
        .map_err(|e| unreadable(&files.crt_file, "certificate", e))?;
    if certificates.is_empty() {
        return Err(unreadable(
            &files.crt_file,
            "certificate",
            pem::Error::NoItemsFound,
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|e| unreadable(&files.key_file, "private key", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|e| {
            format!(
                "the key in {} does not fit the certificate in {}: {e}",
                files.key_file.display(),
                files.crt_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
