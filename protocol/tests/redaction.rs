//! Secrets never print: `Debug` of every type that holds key material is
//! redacted, in both `{:?}` and `{:#?}`, so a stray `tracing::debug!` or a
//! panic message cannot leak a key into logs.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p256::SecretKey;
use protocol::encoding::{b64u_encode, hex_lower};
use protocol::handshake::derive_keys;
use protocol::session::SessionKeys;
use protocol::{ClientHandshake, IdentityKey, Role, Session, SessionId};
use rand_core::{OsRng, RngCore as _};

/// Every spelling of `secret` a formatter might plausibly produce.
fn spellings(secret: &[u8]) -> Vec<String> {
    let hex = hex_lower(secret);
    let decimal_list = format!("{secret:?}");
    vec![hex.to_uppercase(), hex, b64u_encode(secret), decimal_list]
}

fn assert_hides(printed: &str, secret: &[u8], what: &str) {
    for spelling in spellings(secret) {
        assert!(
            !printed.contains(&spelling),
            "{what} printed a secret: {printed}"
        );
    }
}

fn both_forms<T: std::fmt::Debug>(value: &T) -> [String; 2] {
    [format!("{value:?}"), format!("{value:#?}")]
}

#[test]
fn identity_key_debug_hides_the_private_scalar() {
    let identity = IdentityKey::generate(&mut OsRng);
    let scalar = identity.to_scalar_bytes();
    for printed in both_forms(&identity) {
        assert_hides(&printed, scalar.as_ref(), "IdentityKey");
        assert!(printed.contains("***"), "{printed}");
        // What it does show is the public key id, which is useful in logs.
        assert!(printed.contains(&identity.public().key_id()), "{printed}");
    }
}

fn keys() -> SessionKeys {
    let mut z = [0u8; 32];
    OsRng.fill_bytes(&mut z);
    derive_keys(&z, &[7u8; 32]).1
}

#[test]
fn session_keys_debug_is_redacted() {
    let keys = keys();
    for printed in both_forms(&keys) {
        assert_eq!(printed, "SessionKeys(***)");
    }
}

#[test]
fn session_debug_hides_its_keys() {
    let keys = keys();
    let session = Session::new(SessionId::random(&mut OsRng), &keys, Role::Client);
    for printed in both_forms(&session) {
        assert_hides(&printed, keys.c2s.as_ref(), "Session (k_c2s)");
        assert_hides(&printed, keys.s2c.as_ref(), "Session (k_s2c)");
    }
}

#[test]
fn client_handshake_debug_hides_the_ephemeral_key() {
    let ephemeral = SecretKey::random(&mut OsRng);
    let scalar = ephemeral.to_bytes();
    let handshake = ClientHandshake::with(ephemeral, [9u8; 32]);
    for printed in both_forms(&handshake) {
        assert_hides(&printed, &scalar, "ClientHandshake");
    }
}
