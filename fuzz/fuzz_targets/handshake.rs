//! The handshake body: arbitrary bytes read the way `POST /v1/handshake`
//! reads them (JSON, the version check, then `ClientHello`), answered by
//! `server_accept` with the known-answer identity key and a deterministic
//! RNG. Inputs starting with 0xFF (never JSON) instead drive a whole
//! handshake from a client key derived from the rest of the input.
//!
//! Asserts: an accepted hello was a valid one (v 1, a canonical encoding of
//! a strict P-256 point, a 32-byte nonce); the answer is well formed, names
//! the identity key, carries the returned session's sid, and its signature
//! verifies over the transcript recomputed from the public values; a
//! refused hello gets exactly the
//! error its first fault calls for. In the whole-handshake mode: the client
//! finishes, both sessions talk both ways, and a changed signature or an
//! unexpected identity is refused.

#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use p256::SecretKey;
use protocol::encoding::{b64u_decode, b64u_decode_fixed, b64u_encode};
use protocol::handshake::{server_accept, transcript, ClientHandshake, NONCE_LEN};
use protocol::keys::{parse_public_point, POINT_LEN};
use protocol::{ClientHello, HandshakeError, IdentityKey, IdentityPublicKey, SessionId};
use sha2::{Digest as _, Sha256};

fn identity() -> &'static (IdentityKey, IdentityPublicKey) {
    static ID: OnceLock<(IdentityKey, IdentityPublicKey)> = OnceLock::new();
    ID.get_or_init(|| {
        let key = common::identity();
        let public = key.public();
        (key, public)
    })
}

/// What `server_accept` must answer a hello with, worked out from the
/// public checks alone, in the order the protocol lists them.
fn expected_error(hello: &ClientHello) -> Option<HandshakeError> {
    if hello.v != 1 {
        return Some(HandshakeError::UnsupportedVersion);
    }
    let Ok(point) = b64u_decode(&hello.client_pub) else {
        return Some(HandshakeError::Malformed);
    };
    if let Err(e) = parse_public_point(&point) {
        return Some(HandshakeError::InvalidKey(e));
    }
    if b64u_decode_fixed::<NONCE_LEN>(&hello.client_nonce).is_err() {
        return Some(HandshakeError::Malformed);
    }
    None
}

fn accept_body(data: &[u8]) {
    let (key, public) = identity();
    // As transport.rs reads the body.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if value.get("v").is_some_and(|v| v != &serde_json::json!(1)) {
        return;
    }
    let Ok(hello) = serde_json::from_value::<ClientHello>(value) else {
        return;
    };
    let result = server_accept(key, &hello, &mut common::HashRng::new(data));
    let (reply, session) = match result {
        Err(e) => {
            assert_eq!(Some(e), expected_error(&hello), "{hello:?}");
            return;
        }
        Ok(accepted) => accepted,
    };
    assert_eq!(
        expected_error(&hello),
        None,
        "an invalid hello was accepted: {hello:?}"
    );
    let client_pub: [u8; POINT_LEN] = b64u_decode_fixed(&hello.client_pub).expect("checked");
    assert_eq!(
        b64u_encode(&client_pub),
        hello.client_pub,
        "one encoding per key"
    );
    let client_nonce: [u8; NONCE_LEN] = b64u_decode_fixed(&hello.client_nonce).expect("checked");

    assert_eq!(reply.v, 1);
    assert_eq!(reply.key_id, public.key_id());
    let sid = SessionId::from_b64u(&reply.sid).expect("the answer's sid");
    assert_eq!(sid, session.sid());
    let server_pub: [u8; POINT_LEN] = b64u_decode_fixed(&reply.server_pub).expect("server_pub");
    parse_public_point(&server_pub).expect("the server's key is a valid point");
    let server_nonce: [u8; NONCE_LEN] = b64u_decode_fixed(&reply.server_nonce).expect("nonce");
    let sig = b64u_decode_fixed::<64>(&reply.sig).expect("sig");
    let th = transcript(&client_pub, &client_nonce, &sid, &server_pub, &server_nonce);
    assert!(
        public.verify(&th, &sig),
        "the signature does not cover the transcript"
    );
    assert_eq!(session.next_send_seq(), 0);
    assert_eq!(session.last_received(), None);
}

fn whole_handshake(data: &[u8]) {
    let (key, public) = identity();
    let scalar: [u8; 32] = Sha256::digest(data).into();
    let Ok(ephemeral) = SecretKey::from_slice(&scalar) else {
        return;
    };
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&Sha256::digest([data, b"nonce"].concat()));
    let client = ClientHandshake::with(ephemeral.clone(), nonce);
    let body = serde_json::to_vec(&client.hello()).expect("hello JSON");
    let hello: ClientHello = serde_json::from_slice(&body).expect("own hello parses");
    assert_eq!(expected_error(&hello), None);
    let (reply, mut server) =
        server_accept(key, &hello, &mut common::HashRng::new(data)).expect("a valid hello");

    // A changed signature and another pinned identity are refused.
    let mut forged = reply.clone();
    let mut sig = b64u_decode_fixed::<64>(&forged.sig).expect("sig");
    let at = usize::from(data.first().copied().unwrap_or(0)) % 64;
    sig[at] ^= 1 << (data.len() % 8);
    forged.sig = b64u_encode(&sig);
    let refused = ClientHandshake::with(ephemeral.clone(), nonce).finish(&forged, public);
    assert!(
        matches!(refused, Err(HandshakeError::BadSignature)),
        "a changed signature: {refused:?}"
    );
    let other = IdentityKey::generate(&mut common::HashRng::new(b"other")).public();
    let refused = ClientHandshake::with(ephemeral, nonce).finish(&reply, &other);
    assert!(matches!(refused, Err(HandshakeError::UnknownIdentity)));

    let mut client = client.finish(&reply, public).expect("the client finishes");
    assert_eq!(client.sid(), server.sid());
    let frame = client.seal(data).expect("seal");
    assert_eq!(server.open(&frame).as_deref(), Ok(data));
    let frame = server.seal(data).expect("seal");
    assert_eq!(client.open(&frame).as_deref(), Ok(data));
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0xFF, rest)) if rest.len() <= protocol::session::MAX_PLAINTEXT => {
            whole_handshake(rest)
        }
        _ => accept_body(data),
    }
});
