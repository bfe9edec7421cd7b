//! The handshake: `POST /v1/handshake` carries a [`ClientHello`] in and a
//! [`ServerHello`] out. Both sides then hold the same transcript hash, the
//! server's signature over it, and the two session keys derived from the
//! ECDH secret with HKDF-SHA256.
//!
//! ```text
//! transcript = SHA-256("carechat-v1-handshake" || 0x00 || client_pub ||
//!                      client_nonce || sid || server_pub || server_nonce)
//! sig        = ECDSA-P256-SHA256(identity, transcript)        (r || s)
//! PRK        = HKDF-Extract(salt = transcript, IKM = ECDH x-coordinate)
//! k_c2s/s2c  = HKDF-Expand(PRK, "carechat-v1 c2s" / "carechat-v1 s2c", 32)
//! ```
//!
//! Ephemeral secrets are `p256::SecretKey`s and the ECDH output a
//! `Zeroizing` array; both zeroize on drop, which happens as soon as the
//! session keys exist.
//!
//! Every primitive (ECDH, HKDF, ECDSA) is reached through the wrappers in
//! [`crate::crypto`] and [`crate::keys`], the ones the Wycheproof tests run.

use p256::SecretKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::crypto::{ecdh_p256, hkdf_sha256, hkdf_sha256_extract};
use crate::encoding::{b64u_decode, b64u_decode_fixed, b64u_encode};
use crate::keys::{
    encode_public_point, parse_public_point, IdentityKey, IdentityPublicKey, KeyError, POINT_LEN,
};
use crate::session::{Role, Session, SessionId, SessionKeys, SID_LEN};
use crate::VERSION;

/// Length of each side's handshake nonce.
pub const NONCE_LEN: usize = 32;
const TRANSCRIPT_LABEL: &[u8] = b"carechat-v1-handshake";
const INFO_C2S: &[u8] = b"carechat-v1 c2s";
const INFO_S2C: &[u8] = b"carechat-v1 s2c";

/// The client's opening message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientHello {
    /// Protocol version; must be 1.
    pub v: u64,
    /// base64url of the client's ephemeral SEC1 public key (65 bytes).
    pub client_pub: String,
    /// base64url of 32 fresh random bytes.
    pub client_nonce: String,
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerHello {
    /// Protocol version; 1.
    pub v: u64,
    /// base64url of the 16-byte session id.
    pub sid: String,
    /// base64url of the server's ephemeral SEC1 public key.
    pub server_pub: String,
    /// base64url of 32 fresh random bytes.
    pub server_nonce: String,
    /// Which identity key signed: 16 lower-case hex digits.
    pub key_id: String,
    /// base64url of the 64-byte `r || s` signature over the transcript.
    pub sig: String,
}

/// Why a handshake failed. The server answers each with HTTP 400 and
/// [`HandshakeError::code`] (500 for [`HandshakeError::KeyWork`], its own
/// fault); the client refuses to continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `v` was not 1.
    #[error("unsupported protocol version")]
    UnsupportedVersion,
    /// A field was missing, not base64url, or the wrong length.
    #[error("malformed handshake message")]
    Malformed,
    /// A public key was not a valid uncompressed P-256 point.
    #[error("invalid public key: {0}")]
    InvalidKey(KeyError),
    /// The server named an identity key other than the pinned one.
    #[error("handshake signed by an unexpected identity key")]
    UnknownIdentity,
    /// The signature did not verify under the pinned identity key.
    #[error("handshake signature does not verify")]
    BadSignature,
    /// The server's key work failed (its random source, say): nothing the
    /// client did.
    #[error("the server could not do its handshake key work")]
    KeyWork,
}

impl HandshakeError {
    /// The stable error code sent in the server's JSON error body.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::UnsupportedVersion => "unsupported_version",
            Self::Malformed => "malformed_hello",
            Self::InvalidKey(_) => "invalid_public_key",
            Self::UnknownIdentity => "unknown_identity",
            Self::BadSignature => "bad_signature",
            Self::KeyWork => "internal_error",
        }
    }
}

/// The handshake transcript hash over all the public values.
#[must_use]
pub fn transcript(
    client_pub: &[u8; POINT_LEN],
    client_nonce: &[u8; NONCE_LEN],
    sid: &SessionId,
    server_pub: &[u8; POINT_LEN],
    server_nonce: &[u8; NONCE_LEN],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(TRANSCRIPT_LABEL);
    h.update([0u8]);
    h.update(client_pub);
    h.update(client_nonce);
    h.update(sid.0);
    h.update(server_pub);
    h.update(server_nonce);
    h.finalize().into()
}

/// The HKDF key schedule: returns `PRK` (for known-answer tests) and the keys.
///
/// Each key is one full [`hkdf_sha256`] call (extract, then expand) with the
/// transcript as salt and `z` as IKM; `PRK` is that same extract step.
#[must_use]
pub fn derive_keys(z: &[u8], transcript: &[u8; 32]) -> (Zeroizing<[u8; 32]>, SessionKeys) {
    let prk = hkdf_sha256_extract(transcript, z);
    let mut c2s = Zeroizing::new([0u8; 32]);
    let mut s2c = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so neither
    // call can fail (the compile-time check below pins that).
    const _: () = assert!(32 <= crate::crypto::HKDF_SHA256_MAX_OUTPUT);
    let ok_c2s = hkdf_sha256(transcript, z, INFO_C2S, c2s.as_mut()).is_ok();
    let ok_s2c = hkdf_sha256(transcript, z, INFO_S2C, s2c.as_mut()).is_ok();
    debug_assert!(ok_c2s && ok_s2c);
    (prk, SessionKeys { c2s, s2c })
}

/// ECDH with an already-validated peer key: the x-coordinate of
/// `secret * peer`, zeroized on drop. Defined in [`crate::crypto`]; the
/// handshake itself calls [`crate::crypto::ecdh_p256`] on the received bytes.
pub use crate::crypto::shared_secret;

fn check_version(v: u64) -> Result<(), HandshakeError> {
    if v == u64::from(VERSION) {
        Ok(())
    } else {
        Err(HandshakeError::UnsupportedVersion)
    }
}

/// Decodes and strictly checks a peer's ephemeral key, so a bad one is
/// refused before any other work. Returns the 65 SEC1 bytes, which go into
/// the transcript and, later, into [`ecdh_p256`] (which checks them again).
fn decode_point(text: &str) -> Result<[u8; POINT_LEN], HandshakeError> {
    let bytes = b64u_decode(text).map_err(|_| HandshakeError::Malformed)?;
    let key = parse_public_point(&bytes).map_err(HandshakeError::InvalidKey)?;
    Ok(encode_public_point(&key))
}

fn decode_nonce(text: &str) -> Result<[u8; NONCE_LEN], HandshakeError> {
    b64u_decode_fixed::<NONCE_LEN>(text).map_err(|_| HandshakeError::Malformed)
}

/// The server's key work in one handshake: a fresh ephemeral key, ECDH
/// with the client's point, and the identity signature over the
/// transcript. The wire format, the transcript and the key schedule stay
/// in this crate; only these three steps may be done by another audited
/// P-256 implementation (the server uses an assembly one: the clarification
/// of 2026-12 allows hedged signature nonces for exactly this).
/// [`RustCryptoKeyWork`] is the reference, deterministic where the vectors
/// need it.
pub trait ServerKeyWork {
    /// A fresh ephemeral secret, consumed by [`Self::agree`].
    type Ephemeral;

    /// A fresh ephemeral key and its public point (65 SEC1 bytes).
    ///
    /// # Errors
    /// When the implementation's random source fails.
    fn ephemeral(&self) -> Result<(Self::Ephemeral, [u8; POINT_LEN]), HandshakeError>;

    /// The ECDH x-coordinate of `ephemeral * client_pub`. `client_pub` has
    /// passed this crate's strict point checks already.
    ///
    /// # Errors
    /// [`HandshakeError::InvalidKey`] when the implementation refuses it.
    fn agree(
        &self,
        ephemeral: Self::Ephemeral,
        client_pub: &[u8; POINT_LEN],
    ) -> Result<Zeroizing<[u8; 32]>, HandshakeError>;

    /// The identity signature (`r || s`, low-S) over the transcript hash.
    ///
    /// # Errors
    /// When the implementation's random source fails.
    fn sign(&self, transcript: &[u8; 32]) -> Result<[u8; 64], HandshakeError>;

    /// The identity key's id, sent as `key_id`.
    fn key_id(&self) -> String;
}

/// [`ServerKeyWork`] with this crate's own RustCrypto primitives: RFC 6979
/// signatures, and the ephemeral key passed in (so that known-answer tests
/// can fix it) or drawn from the given random source.
pub struct RustCryptoKeyWork<'a> {
    identity: &'a IdentityKey,
    ephemeral: core::cell::Cell<Option<SecretKey>>,
}

impl<'a> RustCryptoKeyWork<'a> {
    /// Key work that signs with `identity` and uses `ephemeral` once.
    #[must_use]
    pub fn new(identity: &'a IdentityKey, ephemeral: SecretKey) -> Self {
        Self {
            identity,
            ephemeral: core::cell::Cell::new(Some(ephemeral)),
        }
    }
}

impl ServerKeyWork for RustCryptoKeyWork<'_> {
    type Ephemeral = SecretKey;

    fn ephemeral(&self) -> Result<(SecretKey, [u8; POINT_LEN]), HandshakeError> {
        // One handshake, one ephemeral key: a second call has none to give.
        let secret = self.ephemeral.take().ok_or(HandshakeError::KeyWork)?;
        let point = encode_public_point(&secret.public_key());
        Ok((secret, point))
    }

    fn agree(
        &self,
        ephemeral: SecretKey,
        client_pub: &[u8; POINT_LEN],
    ) -> Result<Zeroizing<[u8; 32]>, HandshakeError> {
        ecdh_p256(&ephemeral, client_pub).map_err(HandshakeError::InvalidKey)
    }

    fn sign(&self, transcript: &[u8; 32]) -> Result<[u8; 64], HandshakeError> {
        Ok(self.identity.sign(transcript))
    }

    fn key_id(&self) -> String {
        self.identity.public().key_id()
    }
}

/// Server side: answers a [`ClientHello`] with fresh randomness, using this
/// crate's RustCrypto primitives.
///
/// # Errors
/// [`HandshakeError::UnsupportedVersion`], [`HandshakeError::Malformed`] or
/// [`HandshakeError::InvalidKey`]; no session exists then.
pub fn server_accept(
    identity: &IdentityKey,
    hello: &ClientHello,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<(ServerHello, Session), HandshakeError> {
    let ephemeral = SecretKey::random(rng);
    let sid = SessionId::random(rng);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    server_accept_with(identity, hello, &ephemeral, sid, nonce)
}

/// Server side with the ephemeral key, sid and nonce given: the deterministic
/// core of [`server_accept`], used by the known-answer tests.
///
/// # Errors
/// As [`server_accept`].
pub fn server_accept_with(
    identity: &IdentityKey,
    hello: &ClientHello,
    ephemeral: &SecretKey,
    sid: SessionId,
    server_nonce: [u8; NONCE_LEN],
) -> Result<(ServerHello, Session), HandshakeError> {
    let work = RustCryptoKeyWork::new(identity, ephemeral.clone());
    server_accept_using(&work, hello, sid, server_nonce)
}

/// Server side with the key work done by `work`: the hello is checked
/// strictly here (version, encodings, the client's point) before `work`
/// sees any of it.
///
/// # Errors
/// As [`server_accept`].
pub fn server_accept_using<W: ServerKeyWork>(
    work: &W,
    hello: &ClientHello,
    sid: SessionId,
    server_nonce: [u8; NONCE_LEN],
) -> Result<(ServerHello, Session), HandshakeError> {
    check_version(hello.v)?;
    let client_pub = decode_point(&hello.client_pub)?;
    let client_nonce = decode_nonce(&hello.client_nonce)?;
    let (ephemeral, server_pub) = work.ephemeral()?;
    let th = transcript(&client_pub, &client_nonce, &sid, &server_pub, &server_nonce);
    let sig = work.sign(&th)?;
    let z = work.agree(ephemeral, &client_pub)?;
    let (_, keys) = derive_keys(z.as_ref(), &th);
    let reply = ServerHello {
        v: u64::from(VERSION),
        sid: sid.to_b64u(),
        server_pub: b64u_encode(&server_pub),
        server_nonce: b64u_encode(&server_nonce),
        key_id: work.key_id(),
        sig: b64u_encode(&sig),
    };
    Ok((reply, Session::new(sid, &keys, Role::Server)))
}

/// Client side: holds the ephemeral secret between sending the hello and
/// receiving the answer. Consumed (and the secret wiped) by [`Self::finish`].
pub struct ClientHandshake {
    ephemeral: SecretKey,
    client_pub: [u8; POINT_LEN],
    client_nonce: [u8; NONCE_LEN],
}

impl std::fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientHandshake(***)")
    }
}

impl ClientHandshake {
    /// A fresh ephemeral key and nonce.
    pub fn start(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        Self::with(SecretKey::random(rng), nonce)
    }

    /// A handshake with given ephemeral key and nonce (known-answer tests).
    #[must_use]
    pub fn with(ephemeral: SecretKey, client_nonce: [u8; NONCE_LEN]) -> Self {
        let client_pub = encode_public_point(&ephemeral.public_key());
        Self {
            ephemeral,
            client_pub,
            client_nonce,
        }
    }

    /// The hello to POST.
    #[must_use]
    pub fn hello(&self) -> ClientHello {
        ClientHello {
            v: u64::from(VERSION),
            client_pub: b64u_encode(&self.client_pub),
            client_nonce: b64u_encode(&self.client_nonce),
        }
    }

    /// Checks the server's answer against the pinned identity key and derives
    /// the session. No key is derived unless the signature verifies.
    ///
    /// # Errors
    /// Any [`HandshakeError`]; the caller must not talk to this server.
    pub fn finish(
        self,
        reply: &ServerHello,
        pinned: &IdentityPublicKey,
    ) -> Result<Session, HandshakeError> {
        check_version(reply.v)?;
        let sid = SessionId(
            b64u_decode_fixed::<SID_LEN>(&reply.sid).map_err(|_| HandshakeError::Malformed)?,
        );
        let server_pub = decode_point(&reply.server_pub)?;
        let server_nonce = decode_nonce(&reply.server_nonce)?;
        let sig = b64u_decode_fixed::<64>(&reply.sig).map_err(|_| HandshakeError::Malformed)?;
        if reply.key_id != pinned.key_id() {
            return Err(HandshakeError::UnknownIdentity);
        }
        let th = transcript(
            &self.client_pub,
            &self.client_nonce,
            &sid,
            &server_pub,
            &server_nonce,
        );
        if !pinned.verify(&th, &sig) {
            return Err(HandshakeError::BadSignature);
        }
        let z = ecdh_p256(&self.ephemeral, &server_pub).map_err(HandshakeError::InvalidKey)?;
        let (_, keys) = derive_keys(z.as_ref(), &th);
        Ok(Session::new(sid, &keys, Role::Client))
    }
}
