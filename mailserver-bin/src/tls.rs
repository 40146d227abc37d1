//! The TLS server configuration: the configured PEM files, or a self-signed certificate that is
//! generated on first start and kept under `<data_dir>/tls/`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

use crate::config::Config;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read TLS file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write generated TLS file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid TLS certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The server's certificate and key, swapped whole by [`Certificates::reload`] (SIGHUP) while
/// sessions go on: a handshake takes whichever pair is current when it starts.
#[derive(Debug)]
pub struct Certificates {
    current: std::sync::RwLock<Arc<CertifiedKey>>,
    /// When the current certificate expires (Unix time); `i64::MIN`: unknown.
    expires: std::sync::atomic::AtomicI64,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl Certificates {
    /// Reads the configured certificate and key (or the self-signed pair, made when due).
    pub fn load(config: &Config) -> Result<Arc<Self>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pair = Arc::new(read_pair(config, &provider)?);
        let certificates = Self {
            current: std::sync::RwLock::new(Arc::clone(&pair)),
            expires: std::sync::atomic::AtomicI64::new(i64::MIN),
            provider,
        };
        certificates.install(pair);
        Ok(Arc::new(certificates))
    }

    /// Makes `pair` the current one, with its expiry (also in the metrics).
    fn install(&self, pair: Arc<CertifiedKey>) {
        let at = pair.cert.first().and_then(expiry);
        if let Some(at) = at {
            crate::metrics::get().certificate_expiry.set(at);
        }
        self.expires
            .store(at.unwrap_or(i64::MIN), std::sync::atomic::Ordering::Relaxed);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = pair;
    }

    /// Reads the pair again from the files `config` names; on error the current pair stays.
    pub fn reload(&self, config: &Config) -> Result<(), TlsError> {
        self.install(Arc::new(read_pair(config, &self.provider)?));
        Ok(())
    }

    /// The current pair.
    fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// When the current certificate expires (Unix time), if it can be read.
    pub fn expires(&self) -> Option<i64> {
        let at = self.expires.load(std::sync::atomic::Ordering::Relaxed);
        (at != i64::MIN).then_some(at)
    }

    /// `content` signed with the current certificate and key, as a CMS `SignedData` (a
    /// signed Apple configuration profile).
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, crate::cms::CmsError> {
        let pair = self.current();
        crate::cms::signed_data(content, &pair.cert, pair.key.as_ref())
    }

    /// The rustls configuration for our listeners, taking its certificate from `self`.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let server = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        Ok(Arc::new(server))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// When a DER certificate expires (Unix time).
fn expiry(der: &CertificateDer<'_>) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// Reads the certificate chain and key `config` names (making the self-signed pair when due),
/// checked to belong together.
fn read_pair(
    config: &Config,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let (cert_path, key_path) = if config.tls.cert.as_os_str().is_empty() {
        let dir = config.data_dir.join("tls");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        if !key.exists() || self_signed_is_due(&cert) {
            generate(&config.hostname, &cert, &key)?;
        }
        tracing::warn!(
            cert = %cert.display(),
            "serving a self-signed certificate for {}: mail clients will warn. Set [tls] cert \
             and key to a certificate from a CA (with certbot: /etc/letsencrypt/live/{}/fullchain.pem \
             and privkey.pem; `systemctl reload mailserver` after renewals)",
            config.hostname,
            config.hostname
        );
        (cert, key)
    } else {
        (config.tls.cert.clone(), config.tls.key.clone())
    };
    let read_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| read_err(&cert_path, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(&cert_path, &e))?;
    if certs.is_empty() {
        return Err(read_err(&cert_path, &"no certificate in file"));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| read_err(&key_path, &e))?;
    Ok(CertifiedKey::from_der(certs, key, provider)?)
}

/// How long the certificate we make is valid: 825 days, the longest Apple's clients accept
/// for a TLS server certificate.
const SELF_SIGNED_DAYS: i64 = 825;
/// It is made again at a start this close to its end.
const RENEW_BEFORE_DAYS: i64 = 30;

/// Whether the certificate we made must be made (again): missing, made by an older version
/// (rcgen's default name, valid for decades), or within [`RENEW_BEFORE_DAYS`] of its end,
/// counted from when it was written (only we write that file).
fn self_signed_is_due(cert: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(cert) else {
        return true;
    };
    let old_style = std::fs::read(cert).is_ok_and(|pem| {
        CertificateDer::pem_slice_iter(&pem)
            .flatten()
            .any(|der| der.windows(22).any(|w| w == b"rcgen self signed cert"))
    });
    let age_days = meta
        .modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or(0, |d| (d.as_secs() / 86_400) as i64);
    old_style || age_days >= SELF_SIGNED_DAYS - RENEW_BEFORE_DAYS
}

/// The names the certificate we make covers: the host name, the names clients are often
/// given for the same host in its domain (`mail.`, `imap.`, `smtp.`), and `localhost`.
fn self_signed_names(hostname: &str) -> Vec<String> {
    let mut names = vec![hostname.to_owned()];
    if let Some((_, domain)) = hostname.split_once('.')
        && domain.contains('.')
    {
        for prefix in ["mail", "imap", "smtp"] {
            names.push(format!("{prefix}.{domain}"));
        }
    }
    names.push("localhost".to_owned());
    names.sort();
    names.dedup();
    names
}

fn generate(hostname: &str, cert: &Path, key: &Path) -> Result<(), TlsError> {
    let mut params = rcgen::CertificateParams::new(self_signed_names(hostname))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(SELF_SIGNED_DAYS);
    let key_pair = rcgen::KeyPair::generate()?;
    let generated = params.self_signed(&key_pair)?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    write_file(key, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_file(cert, generated.pem().as_bytes(), 0o644)?;
    tracing::info!(cert = %cert.display(), days = SELF_SIGNED_DAYS, "made a self-signed certificate for {hostname}");
    Ok(())
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    write_synced(path, data, mode).map_err(|source| TlsError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Writes a file we generate (keys, certificates, secrets) with `mode`, and syncs it.
pub fn write_synced(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Where the system keeps its trusted roots on Debian.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// TLS towards other servers: `verified` checks the certificate against `ca_file` (or the
/// system's roots) and the host name; `unverified` encrypts without checking, as Postfix's
/// opportunistic `may` level does (a passive eavesdropper learns nothing; an active one could).
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub verified: Arc<rustls::ClientConfig>,
    pub unverified: Arc<rustls::ClientConfig>,
}

pub fn client_config(ca_file: &str) -> Result<ClientTls, TlsError> {
    let path = PathBuf::from(if ca_file.is_empty() {
        SYSTEM_ROOTS
    } else {
        ca_file
    });
    let mut roots = rustls::RootCertStore::empty();
    match CertificateDer::pem_file_iter(&path) {
        Ok(certs) => {
            for cert in certs.flatten() {
                // A bundle may hold certificates rustls cannot use; the others still count.
                let _ = roots.add(cert);
            }
        }
        // Without a configured file, missing system roots only matter once TLS is required.
        Err(e) if !ca_file.is_empty() => {
            return Err(TlsError::Read {
                path,
                reason: e.to_string(),
            });
        }
        Err(_) => {}
    }
    if !ca_file.is_empty() && roots.is_empty() {
        return Err(TlsError::Read {
            path,
            reason: "no usable CA certificate in file".into(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verified = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let unverified = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(ClientTls {
        verified: Arc::new(verified),
        unverified: Arc::new(unverified),
    })
}

/// Accepts any certificate, still checking that the handshake is signed by its key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
