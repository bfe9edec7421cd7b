//! What several targets share: the known-answer handshake of
//! `protocol/tests/data/protocol-vectors.json` (its keys, nonces and sid),
//! and a deterministic RNG, so every run of an input does the same thing.

#![allow(dead_code)]

use p256::SecretKey;
use protocol::encoding::b64u_decode_fixed;
use protocol::IdentityKey;
use sha2::{Digest as _, Sha256};

/// The identity key's private scalar (`identity.private_hex`).
pub const IDENTITY_HEX: &str = "9a18c99c7fac1bfd7cb94153155418a18c81ed1ab2b9d7edadb26bb7cec0558a";
/// `client_ephemeral.private_hex`.
pub const CLIENT_EPHEMERAL_HEX: &str =
    "0f13da8928a9b22ff84343aa774db6c2d3ba6bfabc63f96596516232f99b7e40";
/// `server_ephemeral.private_hex`.
pub const SERVER_EPHEMERAL_HEX: &str =
    "f47ce15879102fc728a11e335add1cd90ea5df8d2029cae83403e89b67617cf4";
/// `client_hello.client_nonce`.
pub const CLIENT_NONCE_B64U: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
/// `server_hello.server_nonce`.
pub const SERVER_NONCE_B64U: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
/// `server_hello.sid`.
pub const SID_B64U: &str = "oKGio6SlpqeoqaqrrK2urw";
/// `server_hello.sig`: the vector's answer, which the fixed handshake must reproduce.
pub const SERVER_SIG_B64U: &str =
    "Yepl7JNw0kUcC5ceeGLlsVLMe7rpFdilZSGeRLgJPyh5Kna-9WOQHC9_PNvmoDQa8sfYSHGCegFUKv5fGxq5Ug";

pub fn hex32(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("vector hex");
    }
    out
}

pub fn b64u32(text: &str) -> [u8; 32] {
    b64u_decode_fixed::<32>(text).expect("vector base64url")
}

pub fn identity() -> IdentityKey {
    IdentityKey::from_scalar_bytes(&hex32(IDENTITY_HEX)).expect("vector identity key")
}

pub fn secret(hex: &str) -> SecretKey {
    SecretKey::from_slice(&hex32(hex)).expect("vector scalar")
}

/// SHA-256 in counter mode over a seed: a deterministic stand-in for the
/// OS RNG. Marked `CryptoRng` only because the protocol's API asks for
/// one; it is no such thing outside a fuzz target.
pub struct HashRng {
    seed: [u8; 32],
    counter: u64,
    buffer: [u8; 32],
    used: usize,
}

impl HashRng {
    pub fn new(seed: &[u8]) -> Self {
        Self {
            seed: Sha256::digest(seed).into(),
            counter: 0,
            buffer: [0; 32],
            used: 32,
        }
    }
}

impl rand_core::RngCore for HashRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == 32 {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.buffer = h.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.buffer[self.used];
            self.used += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for HashRng {}
