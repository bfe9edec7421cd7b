//! Text encodings used on the wire: base64url without padding (RFC 4648 §5)
//! for every byte string, and lower-case hex for `key_id`.
//!
//! Written out here rather than taken from the `base64` crate: its engine
//! is built for throughput, and cost the widget about 5 KB of WebAssembly
//! for the few hundred bytes a session encodes. The tests check every
//! length and many inputs against that crate, which stays a test
//! dependency.

/// The base64url alphabet (RFC 4648 §5).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes bytes as base64url without padding.
#[must_use]
pub fn b64u_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let at = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = at(0) << 16 | at(1) << 8 | at(2);
        // 1, 2 or 3 bytes make 2, 3 or 4 characters.
        for i in 0..=chunk.len() {
            let index = (group >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// The 6-bit value of a base64url character.
fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes base64url without padding. Padding, the standard alphabet and
/// non-canonical trailing bits are all refused, so every byte string has
/// exactly one accepted encoding.
///
/// # Errors
/// [`DecodeError`] when `text` is not canonical unpadded base64url.
pub fn b64u_decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let text = text.as_bytes();
    // One character alone carries 6 bits: never a whole byte.
    if text.len() % 4 == 1 {
        return Err(DecodeError);
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut pending, mut bits) = (0u32, 0u32);
    for &c in text {
        pending = pending << 6 | sextet(c).ok_or(DecodeError)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((pending >> bits) as u8);
            pending &= (1 << bits) - 1;
        }
    }
    // What is left over (2 or 4 bits) must be zero: canonical only.
    if pending != 0 {
        return Err(DecodeError);
    }
    Ok(out)
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

    /// A small deterministic generator, so failures reproduce.
    #[cfg(not(target_arch = "wasm32"))]
    fn bytes(seed: &mut u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (*seed >> 33) as u8
            })
            .collect()
    }

    // The base64 crate is a native-only dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn encodes_every_length_as_the_base64_crate_does_and_reads_it_back() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let mut seed = 7;
        for len in 0..=200 {
            for _ in 0..8 {
                let input = bytes(&mut seed, len);
                let ours = b64u_encode(&input);
                assert_eq!(ours, URL_SAFE_NO_PAD.encode(&input), "{input:?}");
                assert_eq!(b64u_decode(&ours).unwrap(), input);
            }
        }
        // RFC 4648 §10, in the URL alphabet without padding.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64u_encode(plain.as_bytes()), encoded);
            assert_eq!(b64u_decode(encoded).unwrap(), plain.as_bytes());
        }
    }

    // The base64 crate is a native-only dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn accepts_and_refuses_exactly_what_the_base64_crate_does() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        // Strings over the URL and standard alphabets and padding, of every
        // short length: non-canonical trailing bits, `=`, `+`, `/`, lengths
        // that leave one character over.
        const CHARS: &[u8] = b"AQgw_-+/=Zz09.";
        let mut seed = 11;
        for len in 0..=12 {
            for _ in 0..3000 {
                let text: String = bytes(&mut seed, len)
                    .into_iter()
                    .map(|b| char::from(CHARS[usize::from(b) % CHARS.len()]))
                    .collect();
                assert_eq!(
                    b64u_decode(&text).ok(),
                    URL_SAFE_NO_PAD.decode(&text).ok(),
                    "{text:?}"
                );
            }
        }
        for bad in [
            "A", "AB", "AAB", "Zh", "Zm9=", "Zm9vYg==", " Zg", "Zg\n", "Z\u{e9}",
        ] {
            assert!(b64u_decode(bad).is_err(), "{bad:?}");
        }
    }
}
