//! Text encodings used on the wire: base64url without padding (RFC 4648 §5)
//! for every byte string, and lower-case hex for `key_id`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Encodes bytes as base64url without padding.
#[must_use]
pub fn b64u_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding. Padding, the standard alphabet and
/// non-canonical trailing bits are all refused, so every byte string has
/// exactly one accepted encoding.
///
/// # Errors
/// [`DecodeError`] when `text` is not canonical unpadded base64url.
pub fn b64u_decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| DecodeError)
}

/// Decodes base64url into exactly `N` bytes.
///
/// # Errors
/// [`DecodeError`] when the text is not base64url or not `N` bytes long.
pub fn b64u_decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], DecodeError> {
    let bytes = b64u_decode(text)?;
    bytes.try_into().map_err(|_| DecodeError)
}

/// Lower-case hex, as used for `key_id`.
#[must_use]
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A byte string on the wire was not valid base64url of the expected length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not valid base64url of the expected length")]
pub struct DecodeError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_padding_and_standard_alphabet() {
        let bytes = [0xfb, 0xff, 0x01];
        assert_eq!(b64u_encode(&bytes), "-_8B");
        assert_eq!(b64u_decode("-_8B").unwrap(), bytes);
        assert!(b64u_decode("+/8B").is_err());
        assert!(b64u_decode("AQ==").is_err());
        assert!(b64u_decode_fixed::<4>("-_8B").is_err());
        assert_eq!(hex_lower(&[0x00, 0xab, 0x5f]), "00ab5f");
    }
}
