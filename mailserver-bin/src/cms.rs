//! CMS `SignedData` (RFC 5652), as `openssl smime -sign -nodetach -outform der` makes it: what
//! Apple's devices take as a signed configuration profile. The content is carried inside;
//! one signer, named by its certificate's issuer and serial number, signs the content type
//! and the SHA-256 digest of the content (signed attributes) with its key, through rustls'
//! signing keys (RSA PKCS #1 v1.5, ECDSA P-256/P-384, Ed25519: whatever key the server's
//! certificate has). Only DER writing (`der`), no I/O.

use rustls::SignatureScheme;
use rustls::sign::SigningKey;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};

use crate::der::tlv;

/// Object identifiers, as DER contents.
mod oid {
    /// 1.2.840.113549.1.7.1
    pub const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    /// 1.2.840.113549.1.7.2
    pub const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    /// 1.2.840.113549.1.9.3
    pub const CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
    /// 1.2.840.113549.1.9.4
    pub const MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
    /// 2.16.840.1.101.3.4.2.1
    pub const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    /// 1.2.840.113549.1.1.1
    pub const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// 1.2.840.10045.4.3.2
    pub const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    /// 1.2.840.10045.4.3.3
    pub const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    /// 1.3.101.112
    pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

fn oid(value: &[u8]) -> Vec<u8> {
    tlv(0x06, value)
}

/// An `AlgorithmIdentifier` of `algorithm`, with NULL parameters when `null`.
fn algorithm(algorithm: &[u8], null: bool) -> Vec<u8> {
    match null {
        true => seq(&[&oid(algorithm), &[0x05, 0x00]]),
        false => seq(&[&oid(algorithm)]),
    }
}

/// Why nothing was signed.
#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("the certificate cannot be read: {0}")]
    Certificate(String),
    #[error("the key signs with none of RSA PKCS #1 SHA-256, ECDSA or Ed25519")]
    NoScheme,
    #[error("the key did not sign: {0}")]
    Sign(rustls::Error),
}

/// `content` inside a CMS `SignedData` signed with `key`, whose certificate is the first of
/// `chain` (the whole chain is carried, so a device can build the path to its root).
pub fn signed_data(
    content: &[u8],
    chain: &[CertificateDer<'_>],
    key: &dyn SigningKey,
) -> Result<Vec<u8>, CmsError> {
    let leaf = chain
        .first()
        .ok_or_else(|| CmsError::Certificate("no certificate".into()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| CmsError::Certificate(e.to_string()))?;
    let issuer = parsed.tbs_certificate.issuer.as_raw();
    let serial = tlv(0x02, parsed.tbs_certificate.raw_serial());
    let schemes = [
        (SignatureScheme::RSA_PKCS1_SHA256, oid::RSA, true),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            oid::ECDSA_SHA256,
            false,
        ),
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            oid::ECDSA_SHA384,
            false,
        ),
        (SignatureScheme::ED25519, oid::ED25519, false),
    ];
    let offered: Vec<SignatureScheme> = schemes.iter().map(|s| s.0).collect();
    let signer = key.choose_scheme(&offered).ok_or(CmsError::NoScheme)?;
    let (_, signature_oid, null) = schemes
        .iter()
        .find(|s| s.0 == signer.scheme())
        .ok_or(CmsError::NoScheme)?;

    // The signed attributes: the content type, then the digest (the DER order of a SET OF).
    let digest = Sha256::digest(content);
    let attributes = [
        seq(&[&oid(oid::CONTENT_TYPE), &set(&[&oid(oid::DATA)])]),
        seq(&[
            &oid(oid::MESSAGE_DIGEST),
            &set(&[&tlv(0x04, digest.as_slice())]),
        ]),
    ];
    let attributes = attributes.concat();
    // Signed as a SET (RFC 5652 §5.4), carried as [0] IMPLICIT.
    let signature = signer
        .sign(&tlv(0x31, &attributes))
        .map_err(CmsError::Sign)?;
    let sha256 = algorithm(oid::SHA256, true);
    let signer_info = seq(&[
        &tlv(0x02, &[1]),
        &seq(&[issuer, &serial]),
        &sha256,
        &tlv(0xa0, &attributes),
        &algorithm(signature_oid, *null),
        &tlv(0x04, &signature),
    ]);
    let certificates: Vec<u8> = chain.iter().flat_map(|c| c.as_ref().to_vec()).collect();
    let signed = seq(&[
        &tlv(0x02, &[1]),
        &set(&[&sha256]),
        &seq(&[&oid(oid::DATA), &tlv(0xa0, &tlv(0x04, content))]),
        &tlv(0xa0, &certificates),
        &set(&[&signer_info]),
    ]);
    Ok(seq(&[&oid(oid::SIGNED_DATA), &tlv(0xa0, &signed)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_signed_with_the_key_of_its_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example.com".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let signing = rustls::crypto::ring::sign::any_supported_type(&der).unwrap();
        let out = signed_data(b"<plist/>", &[cert.der().clone()], signing.as_ref()).unwrap();
        // A ContentInfo of signedData holding the content and the certificate.
        assert_eq!(out[0], 0x30);
        let find = |needle: &[u8]| out.windows(needle.len()).any(|w| w == needle);
        assert!(find(oid::SIGNED_DATA) && find(b"<plist/>") && find(cert.der()));
        assert!(find(oid::ECDSA_SHA256));
    }
}
