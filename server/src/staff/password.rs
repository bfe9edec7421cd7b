//! Staff passwords: the length rule (NIST SP 800-63B §5.1.1.2: at least
//! [`MIN_PASSWORD_CHARS`] characters, no composition rules) and argon2id
//! hashing into PHC strings, with OWASP's parameters (m = 19456 KiB, t = 2,
//! p = 1). Verification reads the parameters from the stored string, and
//! [`verify_dummy`] spends the same work on a username that does not exist,
//! so timing does not tell which usernames do.
//!
//! Hashing is CPU-bound for tens of milliseconds: callers run it on the
//! blocking pool ([`hash_blocking`], [`verify_blocking`]).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

/// The shortest password accepted for a new account, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted for a new account, in characters (NIST
/// asks that at least 64 be allowed).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// argon2id memory cost in KiB (OWASP's minimum for t = 2).
pub const MEMORY_KIB: u32 = 19_456;
/// argon2id passes.
pub const ITERATIONS: u32 = 2;
/// argon2id lanes.
pub const PARALLELISM: u32 = 1;

/// Why a new password is refused. Neither carries the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
}

/// Checks a new password against the length rule.
///
/// # Errors
/// [`PasswordRule`] when it is too short or too long.
pub fn check_new(password: &str) -> Result<(), PasswordRule> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordRule::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordRule::TooLong);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // These constants are valid argon2 parameters; `Params::DEFAULT` is the
    // same OWASP set, should the crate ever disagree.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with a fresh random salt into a PHC string.
///
/// # Errors
/// Only if argon2 refuses its input (it does not for passwords within the
/// length rule); the message carries no part of the password.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// Whether `password` matches the PHC string `phc` (false for a malformed
/// string).
#[must_use]
pub fn verify(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return false;
    }
    hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A fixed hash no typed password matches in practice (its password is 32
/// random bytes), made once per process with the same parameters.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut secret = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *secret);
        let random = Zeroizing::new(B64U.encode(*secret));
        hash(&random).unwrap_or_default()
    })
}

/// Spends one verification's work for a username that does not exist.
/// Always false.
#[must_use]
pub fn verify_dummy(password: &str) -> bool {
    let _ = verify(dummy_hash(), password);
    false
}

/// [`hash`] on the blocking pool.
///
/// # Errors
/// As [`hash`], or when the blocking task cannot run.
pub async fn hash_blocking(password: &str) -> Result<String, String> {
    let password = Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|_| String::from("password hashing task failed"))?
}

/// [`verify`] (or [`verify_dummy`] when `phc` is `None`) on the blocking
/// pool. False when the task cannot run.
pub async fn verify_blocking(phc: Option<String>, password: &str) -> bool {
    let password = Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify(&phc, &password),
        None => verify_dummy(&password),
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_with_owasp_parameters() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify(&phc, "correct horse battery"));
        assert!(!verify(&phc, "correct horse batterY"));
        assert!(!verify("not a phc string", "correct horse battery"));
        // Salted: the same password hashes differently.
        assert_ne!(phc, hash("correct horse battery").unwrap());
    }

    #[test]
    fn the_dummy_hash_has_the_same_parameters_and_matches_nothing() {
        assert!(dummy_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!verify_dummy(""));
        assert!(!verify_dummy("carechat dummy password"));
    }

    #[test]
    fn length_is_the_only_rule() {
        assert_eq!(check_new("short"), Err(PasswordRule::TooShort));
        assert_eq!(check_new("elevenchars"), Err(PasswordRule::TooShort));
        assert_eq!(check_new("twelve chars"), Ok(()));
        // Characters, not bytes: twelve accented letters pass.
        assert_eq!(check_new("ééééééééééé"), Err(PasswordRule::TooShort));
        assert_eq!(check_new("éééééééééééé"), Ok(()));
        assert_eq!(check_new("alllowercaseandnothingelse"), Ok(()));
        assert_eq!(check_new(&"x".repeat(257)), Err(PasswordRule::TooLong));
    }
}
