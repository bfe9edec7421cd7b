//! Keys: the server's long-term ECDSA P-256 identity key, its public half
//! (what the widget's page pins), and the strict check applied to every P-256
//! point received from a peer.
//!
//! Secret keys are not `Clone`, not `Serialize`, print as `***`, and zeroize
//! on drop (the `p256` secret types do so themselves).

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::PublicKey;
use sha2::{Digest as _, Sha256};

use crate::encoding::{b64u_decode, b64u_encode, hex_lower};

/// Length of an uncompressed SEC1 P-256 point: `0x04 || X || Y`.
pub const POINT_LEN: usize = 65;

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not exactly 65 bytes with the uncompressed tag `0x04`.
    #[error("public key must be a 65-byte uncompressed SEC1 point")]
    Encoding,
    /// The coordinates do not name a point on P-256 (or name the identity).
    #[error("public key is not a point on P-256")]
    NotOnCurve,
    /// A private scalar was zero, too large or the wrong length.
    #[error("private key is not a valid P-256 scalar")]
    InvalidScalar,
}

/// Parses a received P-256 public key the way the protocol requires: exactly
/// 65 bytes, uncompressed tag, on the curve, not the identity.
///
/// `p256` alone would also accept compressed points, hence the explicit
/// length and tag check.
///
/// # Errors
/// [`KeyError::Encoding`] or [`KeyError::NotOnCurve`].
pub fn parse_public_point(bytes: &[u8]) -> Result<PublicKey, KeyError> {
    if bytes.len() != POINT_LEN || bytes[0] != 0x04 {
        return Err(KeyError::Encoding);
    }
    PublicKey::from_sec1_bytes(bytes).map_err(|_| KeyError::NotOnCurve)
}

/// The uncompressed SEC1 encoding of a public key.
#[must_use]
pub fn encode_public_point(key: &PublicKey) -> [u8; POINT_LEN] {
    let point = key.to_encoded_point(false);
    let mut out = [0u8; POINT_LEN];
    out.copy_from_slice(point.as_bytes());
    out
}

/// The server's long-term identity key. It signs every handshake transcript.
pub struct IdentityKey {
    signing: SigningKey,
}

impl IdentityKey {
    /// Generates a fresh identity key.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self {
            signing: SigningKey::random(rng),
        }
    }

    /// Loads an identity key from its 32-byte big-endian private scalar.
    ///
    /// # Errors
    /// [`KeyError::InvalidScalar`] if the bytes are not a scalar in `[1, n)`.
    pub fn from_scalar_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        SigningKey::from_slice(bytes)
            .map(|signing| Self { signing })
            .map_err(|_| KeyError::InvalidScalar)
    }

    /// The private scalar, for writing the key file. The caller owns the
    /// returned buffer's secrecy; it zeroizes on drop.
    #[must_use]
    pub fn to_scalar_bytes(&self) -> zeroize::Zeroizing<[u8; 32]> {
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.signing.to_bytes());
        out
    }

    /// The public half, for the embed page and `/v1/identity`.
    #[must_use]
    pub fn public(&self) -> IdentityPublicKey {
        IdentityPublicKey::from_verifying_key(*self.signing.verifying_key())
    }

    /// ECDSA-P256-SHA256 over `message` with RFC 6979 nonces, as `r || s`.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let sig: Signature = self.signing.sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        out
    }
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKey")
            .field("key_id", &self.public().key_id())
            .field("private", &"***")
            .finish()
    }
}

/// The public half of the identity key, as pinned by the widget.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityPublicKey {
    verifying: VerifyingKey,
    sec1: [u8; POINT_LEN],
}

impl IdentityPublicKey {
    fn from_verifying_key(verifying: VerifyingKey) -> Self {
        let sec1 = encode_public_point(&PublicKey::from(&verifying));
        Self { verifying, sec1 }
    }

    /// Parses a pinned key from its SEC1 bytes (strictly, as any received point).
    ///
    /// # Errors
    /// See [`parse_public_point`].
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = parse_public_point(bytes)?;
        Ok(Self::from_verifying_key(VerifyingKey::from(key)))
    }

    /// Parses a pinned key from base64url of its SEC1 bytes.
    ///
    /// # Errors
    /// [`KeyError::Encoding`] for bad base64url, else as [`Self::from_sec1`].
    pub fn from_b64u(text: &str) -> Result<Self, KeyError> {
        let bytes = b64u_decode(text).map_err(|_| KeyError::Encoding)?;
        Self::from_sec1(&bytes)
    }

    /// The 65-byte uncompressed SEC1 encoding.
    #[must_use]
    pub fn sec1(&self) -> &[u8; POINT_LEN] {
        &self.sec1
    }

    /// base64url of the SEC1 encoding, as served by `/v1/identity`.
    #[must_use]
    pub fn to_b64u(&self) -> String {
        b64u_encode(&self.sec1)
    }

    /// Lower-case hex of the first 8 bytes of `SHA-256(SEC1 public key)`.
    #[must_use]
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.sec1);
        hex_lower(&digest[..8])
    }

    /// Verifies an `r || s` ECDSA-P256-SHA256 signature over `message`.
    #[must_use]
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.verifying.verify(message, &sig).is_ok()
    }
}

impl std::fmt::Debug for IdentityPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdentityPublicKey({})", self.key_id())
    }
}
