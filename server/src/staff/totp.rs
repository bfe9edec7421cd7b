//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP):
//! HMAC-SHA1, 30-second steps from the Unix epoch, 6 digits. A code is
//! accepted for the current step and one step either side, and each step
//! at most once per account (the caller stores the last accepted step).
//!
//! Secrets are 20 random bytes from the operating system ([`TotpSecret`]),
//! shown once as base32 (RFC 4648, no padding) and in an `otpauth://` URI
//! for authenticator apps; redacted in `Debug` and wiped on drop.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use rand_core::{OsRng, RngCore as _};
use sha1::Sha1;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Bytes in a generated secret (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;
/// Steps either side of now that are accepted (clock drift).
pub const SKEW_STEPS: i64 = 1;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP secret.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(redacted)")
    }
}

impl TotpSecret {
    /// [`SECRET_LEN`] random bytes from the OS CSPRNG.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret from raw bytes (as unsealed from the store).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The raw bytes, to seal.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads base32 (either case, spaces and `=` ignored). `None` for
    /// anything else or an empty secret.
    #[must_use]
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
        let mut buffer: u32 = 0;
        let mut bits = 0u32;
        for c in text.bytes() {
            if c == b' ' || c == b'=' || c == b'-' {
                continue;
            }
            let c = c.to_ascii_uppercase();
            let value = BASE32.iter().position(|&b| b == c)?;
            buffer = (buffer << 5) | u32::try_from(value).ok()?;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
            buffer &= (1 << bits) - 1;
        }
        (!out.is_empty()).then(|| Self(out))
    }

    /// The secret as base32 without padding, as authenticator apps take it.
    #[must_use]
    pub fn to_base32(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(self.0.len() * 8 / 5 + 1));
        let mut buffer: u32 = 0;
        let mut bits = 0u32;
        for &byte in self.0.iter() {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
            buffer &= (1 << bits) - 1;
        }
        if bits > 0 {
            out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// The HOTP value (RFC 4226 §5.3) for `counter`, with `digits` digits.
    #[must_use]
    pub fn hotp(&self, counter: u64, digits: u32) -> String {
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&self.0) else {
            // HMAC accepts keys of any length; this branch cannot run.
            return String::new();
        };
        mac.update(&counter.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[19] & 0x0f);
        let binary = (u32::from(digest[offset]) & 0x7f) << 24
            | u32::from(digest[offset + 1]) << 16
            | u32::from(digest[offset + 2]) << 8
            | u32::from(digest[offset + 3]);
        let modulus = 10u64.pow(digits);
        let value = u64::from(binary) % modulus;
        format!("{value:0width$}", width = digits as usize)
    }

    /// The [`DIGITS`]-digit code for time step `step`.
    #[must_use]
    pub fn code_at_step(&self, step: i64) -> String {
        self.hotp(u64::try_from(step).unwrap_or(0), DIGITS)
    }

    /// The code for the step containing `at`.
    #[must_use]
    pub fn code_at(&self, at: DateTime<Utc>) -> String {
        self.code_at_step(step_of(at))
    }

    /// The step, within [`SKEW_STEPS`] of `now` and after `last_used`, whose
    /// code is `entered` (spaces ignored). Every candidate is compared in
    /// constant time, with no early exit.
    #[must_use]
    pub fn matching_step(&self, entered: &str, now: DateTime<Utc>, last_used: i64) -> Option<i64> {
        let entered: Zeroizing<String> =
            Zeroizing::new(entered.chars().filter(|c| !c.is_whitespace()).collect());
        let current = step_of(now);
        let mut found = None;
        for step in current - SKEW_STEPS..=current + SKEW_STEPS {
            let code = Zeroizing::new(self.code_at_step(step));
            let same = bool::from(code.as_bytes().ct_eq(entered.as_bytes()));
            if same && step > last_used && step >= 0 && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

/// The time step containing `at`.
#[must_use]
pub fn step_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECS)
}

/// The `otpauth://totp/` URI authenticator apps scan (Key Uri Format).
#[must_use]
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // In the path a space must be %20, not '+'.
    let label = format!("{}:{}", enc(issuer), enc(account)).replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        secret.to_base32().as_str(),
        enc(issuer).replace('+', "%20"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone as _;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890")
    }

    #[test]
    fn rfc_6238_sha1_test_vectors() {
        let s = rfc_secret();
        for (t, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = u64::try_from(t / STEP_SECS).unwrap();
            assert_eq!(s.hotp(step, 8), code, "T = {t}");
        }
        let at = Utc.timestamp_opt(59, 0).unwrap();
        assert_eq!(s.code_at(at), "287082");
    }

    #[test]
    fn rfc_4226_hotp_test_vectors() {
        let s = rfc_secret();
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(s.hotp(counter as u64, 6), *code);
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        let s = TotpSecret::from_bytes(b"foobar");
        assert_eq!(s.to_base32().as_str(), "MZXW6YTBOI");
        let back = TotpSecret::from_base32("mzxw 6ytb oi======").unwrap();
        assert_eq!(back.as_bytes(), b"foobar");
        let generated = TotpSecret::generate();
        assert_eq!(generated.as_bytes().len(), SECRET_LEN);
        let b32 = generated.to_base32();
        assert_eq!(b32.len(), 32);
        assert_eq!(
            TotpSecret::from_base32(&b32).unwrap().as_bytes(),
            generated.as_bytes()
        );
        assert!(TotpSecret::from_base32("not base32 1").is_none());
        assert!(TotpSecret::from_base32("").is_none());
    }

    #[test]
    fn one_step_either_side_is_accepted_and_used_steps_are_not() {
        let s = rfc_secret();
        let now = Utc.timestamp_opt(1_700_000_015, 0).unwrap();
        let step = step_of(now);
        for offset in [-1, 0, 1] {
            let code = s.code_at_step(step + offset);
            assert_eq!(s.matching_step(&code, now, 0), Some(step + offset));
            // Already used: refused.
            assert_eq!(s.matching_step(&code, now, step + offset), None);
        }
        for offset in [-2, 2] {
            let code = s.code_at_step(step + offset);
            assert_eq!(s.matching_step(&code, now, 0), None);
        }
        let spaced = s.code_at_step(step);
        let spaced = format!("{} {}", &spaced[..3], &spaced[3..]);
        assert_eq!(s.matching_step(&spaced, now, 0), Some(step));
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters_and_debug_hides_the_secret() {
        let s = TotpSecret::from_bytes(b"foobar");
        let uri = otpauth_uri("Maple Grove", "nurse.ann", &s);
        assert_eq!(
            uri,
            "otpauth://totp/Maple%20Grove:nurse.ann?secret=MZXW6YTBOI&issuer=Maple%20Grove&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{s:?}"), "TotpSecret(redacted)");
    }
}
