//! Envelope encryption: AES-256-GCM under data keys (DEKs) that are stored
//! wrapped by the master key, the [`Sealed`] text format of a ciphertext,
//! and the associated data ([`aad`]) that binds it to its place.

use std::fmt;

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::config::MasterKey;
use super::StoreError;

/// Prefix (and format version) of every sealed value.
const SEALED_VERSION: &str = "v1";
/// Domain of the AEAD associated data for sealed values.
const SEAL_DOMAIN: &[u8] = b"carechat sealed v1";
/// Domain of the AEAD associated data for wrapped keys.
const WRAP_DOMAIN: &[u8] = b"carechat wrapped key v1";
const NONCE_LEN: usize = 12;

/// A ciphertext as stored in a TEXT column:
/// `v1.<data key id>.<base64url nonce>.<base64url ciphertext and tag>`.
///
/// Only [`super::Store::seal`] makes one from plaintext; any stored text can
/// be wrapped back with [`Sealed::from_stored`] and is checked on unseal.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    /// Wraps text read from a column.
    #[must_use]
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The text to write to a column.
    #[must_use]
    pub fn as_stored(&self) -> &str {
        &self.0
    }

    /// The id of the data key that sealed it, if the text is well formed.
    #[must_use]
    pub fn key_id(&self) -> Option<i64> {
        self.parts().ok().map(|(id, _, _)| id)
    }

    fn parts(&self) -> Result<(i64, [u8; NONCE_LEN], Vec<u8>), StoreError> {
        let mut parts = self.0.split('.');
        let (Some(SEALED_VERSION), Some(id), Some(nonce), Some(ct), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(StoreError::Malformed);
        };
        let id = id.parse().map_err(|_| StoreError::Malformed)?;
        let nonce = B64U
            .decode(nonce)
            .ok()
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
            .ok_or(StoreError::Malformed)?;
        let ct = B64U.decode(ct).map_err(|_| StoreError::Malformed)?;
        Ok((id, nonce, ct))
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key_id() {
            Some(id) => write!(f, "Sealed(key {id}, {} chars)", self.0.len()),
            None => f.write_str("Sealed(malformed)"),
        }
    }
}

/// The associated data that binds a sealed value to its table, column and
/// row, so a ciphertext copied to another row or column does not open.
///
/// Do not change: field order matters. Existing ciphertexts were sealed
/// over exactly this encoding: a domain label, then `table`, `column` and
/// each part of the row key, each as a 4-byte big-endian length and bytes.
#[must_use]
pub fn aad(table: &str, column: &str, row_key: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    push(&mut out, b"carechat aad v1");
    push(&mut out, table.as_bytes());
    push(&mut out, column.as_bytes());
    for part in row_key {
        push(&mut out, part.as_bytes());
    }
    out
}

fn push(out: &mut Vec<u8>, bytes: &[u8]) {
    // Lengths above 4 GiB cannot occur for AAD parts; saturate rather than panic.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A 256-bit AES key (a DEK or the blind-index key). Zeroized on drop.
pub(crate) struct KeyBytes(pub(crate) Zeroizing<[u8; 32]>);

impl KeyBytes {
    pub(crate) fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, bytes.as_mut());
        Self(bytes)
    }
}

fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    nonce
}

/// Do not change: field order matters (domain, key id, caller AAD).
fn seal_aad(key_id: i64, caller: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(caller.len() + 40);
    push(&mut out, SEAL_DOMAIN);
    out.extend_from_slice(&key_id.to_be_bytes());
    push(&mut out, caller);
    out
}

/// Do not change: field order matters (domain, key id, kind).
fn wrap_aad(key_id: i64, kind: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    push(&mut out, WRAP_DOMAIN);
    out.extend_from_slice(&key_id.to_be_bytes());
    push(&mut out, kind.as_bytes());
    out
}

pub(crate) fn seal_with(
    key_id: i64,
    key: &KeyBytes,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, StoreError> {
    let cipher = Aes256Gcm::new_from_slice(key.0.as_ref()).map_err(|_| StoreError::Crypto)?;
    let nonce = random_nonce();
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &seal_aad(key_id, aad),
            },
        )
        .map_err(|_| StoreError::Crypto)?;
    Ok(Sealed(format!(
        "{SEALED_VERSION}.{key_id}.{}.{}",
        B64U.encode(nonce),
        B64U.encode(ct)
    )))
}

/// Opens `sealed` with `lookup(key id)`.
pub(crate) fn unseal_with<'k>(
    lookup: impl Fn(i64) -> Option<&'k KeyBytes>,
    aad: &[u8],
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let (key_id, nonce, ct) = sealed.parts()?;
    let key = lookup(key_id).ok_or(StoreError::UnknownDataKey(key_id))?;
    let cipher = Aes256Gcm::new_from_slice(key.0.as_ref()).map_err(|_| StoreError::Crypto)?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &ct,
                aad: &seal_aad(key_id, aad),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| StoreError::Unseal)
}

/// Wraps a key under the master key: base64url of nonce || ciphertext.
pub(crate) fn wrap(
    master: &MasterKey,
    key_id: i64,
    kind: &str,
    key: &KeyBytes,
) -> Result<String, StoreError> {
    let cipher = Aes256Gcm::new_from_slice(master.bytes()).map_err(|_| StoreError::Crypto)?;
    let nonce = random_nonce();
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: key.0.as_ref(),
                aad: &wrap_aad(key_id, kind),
            },
        )
        .map_err(|_| StoreError::Crypto)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(B64U.encode(out))
}

/// Unwraps a key wrapped by [`wrap`].
pub(crate) fn unwrap_key(
    master: &MasterKey,
    key_id: i64,
    kind: &str,
    wrapped: &str,
) -> Result<KeyBytes, StoreError> {
    let raw = B64U.decode(wrapped).map_err(|_| StoreError::Malformed)?;
    if raw.len() < NONCE_LEN {
        return Err(StoreError::Malformed);
    }
    let (nonce, ct) = raw.split_at(NONCE_LEN);
    let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| StoreError::Malformed)?;
    let cipher = Aes256Gcm::new_from_slice(master.bytes()).map_err(|_| StoreError::Crypto)?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: &wrap_aad(key_id, kind),
                },
            )
            .map_err(|_| StoreError::KeyUnwrap(key_id))?,
    );
    let mut bytes = Zeroizing::new([0u8; 32]);
    if plain.len() != 32 {
        return Err(StoreError::Malformed);
    }
    bytes.copy_from_slice(&plain);
    Ok(KeyBytes(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_text_carries_version_key_id_and_a_12_byte_nonce() {
        let key = KeyBytes::generate();
        let sealed = seal_with(7, &key, b"ctx", b"hello").unwrap();
        let parts: Vec<&str> = sealed.as_stored().split('.').collect();
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], "7");
        assert_eq!(B64U.decode(parts[2]).unwrap().len(), 12);
        // 5 bytes of plaintext + 16 bytes of tag.
        assert_eq!(B64U.decode(parts[3]).unwrap().len(), 21);
        let opened = unseal_with(|id| (id == 7).then_some(&key), b"ctx", &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"hello");
    }

    #[test]
    fn aad_is_length_prefixed_so_parts_cannot_slide() {
        assert_ne!(aad("ab", "c", &["d"]), aad("a", "bc", &["d"]));
        assert_ne!(aad("t", "c", &["1", "2"]), aad("t", "c", &["12"]));
    }
}
