//! The cryptographic primitives, each behind one thin wrapper that the rest of
//! the crate calls: AES-256-GCM ([`aead_seal_with`] / [`aead_open_with`] and
//! their by-key forms), P-256 ECDH with the protocol's strict point check
//! ([`ecdh_p256`]), and HKDF-SHA256 ([`hkdf_sha256`]). ECDSA P-256 signing and
//! verification belong to the identity key types in [`crate::keys`]
//! ([`crate::IdentityKey::sign`], [`crate::IdentityPublicKey::verify`]).
//!
//! These wrappers are exactly the code paths that [`crate::session`] and
//! [`crate::handshake`] use, and they are what `tests/wycheproof.rs` runs the
//! Wycheproof vectors through. Keep it that way: a primitive reached by some
//! other route would be a primitive the tests do not vouch for.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use p256::ecdh::diffie_hellman;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keys::{parse_public_point, KeyError};

/// Length of an AES-256 key.
pub const AEAD_KEY_LEN: usize = 32;
/// Length of the AES-GCM nonce the protocol uses (96 bits, the GCM standard size).
pub const AEAD_NONCE_LEN: usize = 12;
/// Largest output HKDF-SHA256 can produce: 255 blocks of 32 bytes.
pub const HKDF_SHA256_MAX_OUTPUT: usize = 255 * 32;

/// Why a primitive refused its input. Deliberately coarse: an opening that
/// fails says nothing about which byte was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// AES-GCM opening failed: the tag did not verify for this key, nonce and
    /// associated data, or the input was shorter than a tag.
    #[error("ciphertext failed authentication")]
    Authentication,
    /// AES-GCM sealing refused the input (over GCM's 2^36-byte limit).
    #[error("input too long for AES-GCM")]
    InputTooLong,
    /// HKDF-SHA256 was asked for more than 8160 bytes of output.
    #[error("HKDF-SHA256 output longer than 8160 bytes")]
    HkdfOutputLength,
}

/// An AES-256-GCM instance for `key`, for callers that seal or open many
/// messages under one key (a [`crate::Session`] keeps one per direction).
#[must_use]
pub fn aead_cipher(key: &[u8; AEAD_KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// AES-256-GCM encryption with a prepared cipher: returns `ciphertext || tag`
/// (16-byte tag).
///
/// # Errors
/// [`CryptoError::InputTooLong`] if `plaintext` or `aad` exceeds GCM's limits.
pub fn aead_seal_with(
    cipher: &Aes256Gcm,
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    cipher
        .encrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::InputTooLong)
}

/// AES-256-GCM decryption with a prepared cipher: checks the tag at the end
/// of `ciphertext` and returns the plaintext only if it verifies.
///
/// # Errors
/// [`CryptoError::Authentication`] for any input that does not verify.
pub fn aead_open_with(
    cipher: &Aes256Gcm,
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    cipher
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Authentication)
}

/// AES-256-GCM encryption under `key`: [`aead_cipher`] then [`aead_seal_with`].
///
/// # Errors
/// As [`aead_seal_with`].
pub fn aead_seal(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    aead_seal_with(&aead_cipher(key), nonce, aad, plaintext)
}

/// AES-256-GCM decryption under `key`: [`aead_cipher`] then [`aead_open_with`].
///
/// # Errors
/// As [`aead_open_with`].
pub fn aead_open(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    aead_open_with(&aead_cipher(key), nonce, aad, ciphertext)
}

/// P-256 ECDH against a peer key received on the wire: the strict point check
/// ([`parse_public_point`]: 65 bytes, uncompressed, on the curve), then
/// [`shared_secret`].
///
/// # Errors
/// [`KeyError::Encoding`] or [`KeyError::NotOnCurve`]; compressed points are
/// refused on purpose, as the protocol allows only uncompressed ones.
pub fn ecdh_p256(secret: &SecretKey, peer_sec1: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let peer = parse_public_point(peer_sec1)?;
    Ok(shared_secret(secret, &peer))
}

/// ECDH with an already-validated peer key: the x-coordinate of
/// `secret * peer`, zeroized on drop.
#[must_use]
pub fn shared_secret(secret: &SecretKey, peer: &PublicKey) -> Zeroizing<[u8; 32]> {
    // `to_nonzero_scalar` copies the secret scalar out of the `SecretKey`;
    // the copy is wiped too.
    let scalar = Zeroizing::new(secret.to_nonzero_scalar());
    let shared = diffie_hellman(&*scalar, peer.as_affine());
    let mut z = Zeroizing::new([0u8; 32]);
    z.copy_from_slice(shared.raw_secret_bytes());
    z
}

/// HKDF-SHA256 (RFC 5869): extract with `salt` and `ikm`, then expand with
/// `info` to fill `out`. An empty `salt` is the same as no salt.
///
/// # Errors
/// [`CryptoError::HkdfOutputLength`] if `out` is longer than 8160 bytes;
/// `out` is then left as it was.
pub fn hkdf_sha256(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| CryptoError::HkdfOutputLength)
}

/// HKDF-SHA256's extract step alone: the pseudorandom key `PRK`. The protocol
/// only needs it for known-answer tests; keys come from [`hkdf_sha256`].
#[must_use]
pub fn hkdf_sha256_extract(salt: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&prk);
    out
}
