//! Known-answer vectors from an independent implementation
//! (`shared/design/protocol-vectors.json`, copied into `tests/data`).
//! Every value must be reproduced byte for byte, and every must-reject frame
//! and point refused.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p256::SecretKey;
use protocol::encoding::{b64u_decode, b64u_decode_fixed, b64u_encode, hex_lower};
use protocol::handshake::{self, derive_keys, server_accept_with, shared_secret, transcript};
use protocol::keys::parse_public_point;
use protocol::session::{frame_aad, frame_nonce, Direction};
use protocol::{ClientHandshake, ClientHello, Frame, IdentityKey, ServerHello, Session, SessionId};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/protocol-vectors.json")).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_else(|| panic!("missing {path:?}"))
}

struct Fixture {
    v: Value,
    identity: IdentityKey,
    client_secret: SecretKey,
    server_secret: SecretKey,
    sid: SessionId,
}

fn fixture() -> Fixture {
    let v = vectors();
    let identity =
        IdentityKey::from_scalar_bytes(&hex(s(&v, &["identity", "private_hex"]))).unwrap();
    let client_secret =
        SecretKey::from_slice(&hex(s(&v, &["client_ephemeral", "private_hex"]))).unwrap();
    let server_secret =
        SecretKey::from_slice(&hex(s(&v, &["server_ephemeral", "private_hex"]))).unwrap();
    let sid = SessionId::from_b64u(s(&v, &["server_hello", "sid"])).unwrap();
    Fixture {
        v,
        identity,
        client_secret,
        server_secret,
        sid,
    }
}

#[test]
fn identity_public_key_and_key_id() {
    let f = fixture();
    let public = f.identity.public();
    assert_eq!(public.to_b64u(), s(&f.v, &["identity", "public_b64u"]));
    assert_eq!(public.key_id(), s(&f.v, &["identity", "key_id"]));
}

#[test]
fn ephemeral_public_keys() {
    let f = fixture();
    let client_pub = protocol::keys::encode_public_point(&f.client_secret.public_key());
    let server_pub = protocol::keys::encode_public_point(&f.server_secret.public_key());
    assert_eq!(
        b64u_encode(&client_pub),
        s(&f.v, &["client_ephemeral", "public_b64u"])
    );
    assert_eq!(
        b64u_encode(&server_pub),
        s(&f.v, &["server_ephemeral", "public_b64u"])
    );
}

#[test]
fn transcript_shared_secret_prk_and_keys() {
    let f = fixture();
    let client_pub: [u8; 65] = b64u_decode_fixed(s(&f.v, &["client_hello", "client_pub"])).unwrap();
    let client_nonce: [u8; 32] =
        b64u_decode_fixed(s(&f.v, &["client_hello", "client_nonce"])).unwrap();
    let server_pub: [u8; 65] = b64u_decode_fixed(s(&f.v, &["server_hello", "server_pub"])).unwrap();
    let server_nonce: [u8; 32] =
        b64u_decode_fixed(s(&f.v, &["server_hello", "server_nonce"])).unwrap();
    let th = transcript(
        &client_pub,
        &client_nonce,
        &f.sid,
        &server_pub,
        &server_nonce,
    );
    assert_eq!(hex_lower(&th), s(&f.v, &["transcript_hex"]));

    let z_client = shared_secret(&f.client_secret, &parse_public_point(&server_pub).unwrap());
    let z_server = shared_secret(&f.server_secret, &parse_public_point(&client_pub).unwrap());
    assert_eq!(
        hex_lower(z_client.as_ref()),
        s(&f.v, &["shared_secret_z_hex"])
    );
    assert_eq!(z_client, z_server);

    let (prk, keys) = derive_keys(z_client.as_ref(), &th);
    assert_eq!(hex_lower(prk.as_ref()), s(&f.v, &["prk_hex"]));
    assert_eq!(hex_lower(keys.c2s.as_ref()), s(&f.v, &["k_c2s_hex"]));
    assert_eq!(hex_lower(keys.s2c.as_ref()), s(&f.v, &["k_s2c_hex"]));
}

#[test]
fn client_hello_and_server_hello_byte_for_byte() {
    let f = fixture();
    let nonce: [u8; 32] = b64u_decode_fixed(s(&f.v, &["client_hello", "client_nonce"])).unwrap();
    let client = ClientHandshake::with(f.client_secret.clone(), nonce);
    let hello = client.hello();
    let expected_hello: ClientHello = serde_json::from_value(f.v["client_hello"].clone()).unwrap();
    assert_eq!(hello, expected_hello);

    let server_nonce: [u8; 32] =
        b64u_decode_fixed(s(&f.v, &["server_hello", "server_nonce"])).unwrap();
    let (reply, _server_session) =
        server_accept_with(&f.identity, &hello, &f.server_secret, f.sid, server_nonce).unwrap();
    let expected_reply: ServerHello = serde_json::from_value(f.v["server_hello"].clone()).unwrap();
    assert_eq!(
        reply, expected_reply,
        "signature is deterministic (RFC 6979)"
    );

    // The client accepts the independent implementation's hello.
    client
        .finish(&expected_reply, &f.identity.public())
        .unwrap();
}

fn sessions(f: &Fixture) -> (Session, Session) {
    let nonce: [u8; 32] = b64u_decode_fixed(s(&f.v, &["client_hello", "client_nonce"])).unwrap();
    let server_nonce: [u8; 32] =
        b64u_decode_fixed(s(&f.v, &["server_hello", "server_nonce"])).unwrap();
    let client = ClientHandshake::with(f.client_secret.clone(), nonce);
    let (reply, server) = server_accept_with(
        &f.identity,
        &client.hello(),
        &f.server_secret,
        f.sid,
        server_nonce,
    )
    .unwrap();
    let client = client.finish(&reply, &f.identity.public()).unwrap();
    (client, server)
}

#[test]
fn frames_seal_and_open_byte_for_byte() {
    let f = fixture();
    let (mut client, mut server) = sessions(&f);
    for (i, fv) in f.v["frames"].as_array().unwrap().iter().enumerate() {
        let dir = fv["dir"].as_u64().unwrap();
        let seq = fv["seq"].as_u64().unwrap();
        let direction = if dir == 1 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        assert_eq!(
            hex_lower(&frame_nonce(direction, seq)),
            fv["nonce_hex"].as_str().unwrap(),
            "frame {i} nonce"
        );
        assert_eq!(
            hex_lower(&frame_aad(&f.sid, direction, seq)),
            fv["aad_hex"].as_str().unwrap(),
            "frame {i} aad"
        );
        let expected: Frame = serde_json::from_value(fv["frame"].clone()).unwrap();
        let plaintext = fv["plaintext"].as_str().unwrap().as_bytes();
        let (sender, receiver) = if dir == 1 {
            (&mut client, &mut server)
        } else {
            (&mut server, &mut client)
        };
        if seq > sender.next_send_seq() {
            // The vectors' last frame opens a new connection after frames were lost.
            sender.skip_send_to(seq);
            receiver.begin_connection();
        }
        let sealed = sender.seal(plaintext).unwrap();
        assert_eq!(sealed, expected, "frame {i} ciphertext");
        assert_eq!(Frame::from_json(&sealed.to_json()).unwrap(), expected);
        assert_eq!(
            receiver.open(&expected).unwrap(),
            plaintext,
            "frame {i} opens"
        );
    }
}

#[test]
fn core_messages_serialize_to_the_vector_plaintexts() {
    use protocol::{ClientMessage, ServerMessage};
    let f = fixture();
    for fv in f.v["frames"].as_array().unwrap() {
        let text = fv["plaintext"].as_str().unwrap();
        if fv["dir"] == 1 {
            let m: ClientMessage = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&m).unwrap(), text);
        } else {
            let m: ServerMessage = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&m).unwrap(), text);
        }
    }
}

#[test]
fn must_reject_frames_are_rejected() {
    let f = fixture();
    for fv in f.v["must_reject_frames"].as_array().unwrap() {
        let why = fv["why"].as_str().unwrap();
        let (_client, mut server) = sessions(&f);
        server.expect_next(fv["expect_seq"].as_u64().unwrap());
        let frame: Frame = serde_json::from_value(fv["frame"].clone()).unwrap();
        let before = server.last_received();
        assert!(server.open(&frame).is_err(), "accepted a frame: {why}");
        assert_eq!(
            server.last_received(),
            before,
            "state moved on a rejected frame: {why}"
        );
    }
}

#[test]
fn must_reject_points_are_rejected() {
    let f = fixture();
    for pv in f.v["must_reject_points"].as_array().unwrap() {
        let why = pv["why"].as_str().unwrap();
        let text = pv["point_b64u"].as_str().unwrap();
        assert!(
            parse_public_point(&b64u_decode(text).unwrap()).is_err(),
            "point accepted: {why}"
        );
        assert!(
            protocol::IdentityPublicKey::from_b64u(text).is_err(),
            "pinned key accepted: {why}"
        );
        // A server must refuse a ClientHello carrying it, with no session.
        let hello = ClientHello {
            v: 1,
            client_pub: text.to_owned(),
            client_nonce: b64u_encode(&[7u8; 32]),
        };
        let err = handshake::server_accept(&f.identity, &hello, &mut rand_core::OsRng).unwrap_err();
        assert!(
            matches!(err, protocol::HandshakeError::InvalidKey(_)),
            "{why}: {err:?}"
        );
    }
}
