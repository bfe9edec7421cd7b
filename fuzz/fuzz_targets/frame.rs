//! Frames: `Frame::from_json` on arbitrary text, then `Session::open` under
//! the session of the protocol's known-answer handshake, from several
//! receive states. And the other way round: arbitrary bytes sealed by the
//! client side and opened by the server side, then tampered with.
//!
//! Asserts: a parsed frame re-serializes to itself; a frame that opens is
//! exactly the frame the peer's session seals for that plaintext and seq
//! (so it was sealed by the session: one encoding, no malleability), moves
//! `last_received` to its seq and cannot be replayed; a refused frame
//! leaves the session's state as it was (the next genuine frame still
//! opens); seq and size limits give their errors; what is sealed opens to
//! the same bytes, and a changed character, seq or direction never opens.

#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol::encoding::b64u_decode;
use protocol::handshake::{derive_keys, server_accept_with, transcript, ClientHandshake};
use protocol::keys::{encode_public_point, parse_public_point};
use protocol::session::{SessionKeys, MAX_FRAMES_PER_DIRECTION, MAX_PLAINTEXT};
use protocol::{Frame, FrameError, Role, Session, SessionId};
use zeroize::Zeroizing;

struct Fixed {
    sid: SessionId,
    c2s: [u8; 32],
    s2c: [u8; 32],
}

impl Fixed {
    fn session(&self, role: Role) -> Session {
        let keys = SessionKeys {
            c2s: Zeroizing::new(self.c2s),
            s2c: Zeroizing::new(self.s2c),
        };
        Session::new(self.sid, &keys, role)
    }
}

/// The session of the known-answer handshake, checked once against the
/// vector and against the sessions the handshake functions return.
fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let identity = common::identity();
        let client_eph = common::secret(common::CLIENT_EPHEMERAL_HEX);
        let server_eph = common::secret(common::SERVER_EPHEMERAL_HEX);
        let client_nonce = common::b64u32(common::CLIENT_NONCE_B64U);
        let server_nonce = common::b64u32(common::SERVER_NONCE_B64U);
        let sid = SessionId::from_b64u(common::SID_B64U).expect("vector sid");
        let client = ClientHandshake::with(client_eph.clone(), client_nonce);
        let hello = client.hello();
        let (reply, mut server_session) =
            server_accept_with(&identity, &hello, &server_eph, sid, server_nonce)
                .expect("the vector handshake is accepted");
        assert_eq!(reply.sig, common::SERVER_SIG_B64U, "the vector's signature");
        let mut client_session = client
            .finish(&reply, &identity.public())
            .expect("the vector handshake finishes");

        let client_pub = encode_public_point(&client_eph.public_key());
        let server_pub = encode_public_point(&server_eph.public_key());
        let th = transcript(&client_pub, &client_nonce, &sid, &server_pub, &server_nonce);
        let peer = parse_public_point(&client_pub).expect("vector point");
        let z = protocol::handshake::shared_secret(&server_eph, &peer);
        let (_, keys) = derive_keys(z.as_ref(), &th);
        let fixed = Fixed {
            sid,
            c2s: *keys.c2s,
            s2c: *keys.s2c,
        };
        // The rebuilt sessions talk to the handshake's own sessions.
        let frame = fixed.session(Role::Client).seal(b"{}").expect("seal");
        assert_eq!(server_session.open(&frame).expect("open"), b"{}");
        let frame = client_session.seal(b"[]").expect("seal");
        assert_eq!(
            fixed.session(Role::Server).open(&frame).expect("open"),
            b"[]"
        );
        fixed
    })
}

/// Opens `frame` after putting a fresh server session in receive state
/// `state`, and checks the outcome.
fn open_in_state(f: &Fixed, frame: &Frame, state: u8) {
    let seq = frame.seq;
    let mut server = f.session(Role::Server);
    // The seq a genuine frame must carry to be accepted in this state.
    let genuine_seq = match state {
        0 => seq,
        1 => {
            server.expect_next(seq);
            seq
        }
        2 => {
            server.expect_next(seq.saturating_add(1));
            seq.saturating_add(1)
        }
        _ => {
            server.expect_next(seq.saturating_sub(3));
            server.begin_connection();
            seq
        }
    };
    let before = server.last_received();
    match server.open(frame) {
        Ok(plaintext) => {
            assert!(plaintext.len() <= MAX_PLAINTEXT);
            assert_ne!(state, 2, "a frame below the expected seq opened");
            assert_eq!(server.last_received(), Some(seq));
            let mut client = f.session(Role::Client);
            client.skip_send_to(seq);
            assert_eq!(
                client.seal(&plaintext).as_ref(),
                Ok(frame),
                "an opened frame is not exactly what the peer seals"
            );
            assert_eq!(server.open(frame), Err(FrameError::Sequence), "replay");
        }
        Err(e) => {
            assert_eq!(
                server.last_received(),
                before,
                "a refused frame moved the state"
            );
            if seq >= MAX_FRAMES_PER_DIRECTION {
                assert_eq!(e, FrameError::Exhausted);
            } else if state == 2 {
                assert_eq!(e, FrameError::Sequence);
            }
            if genuine_seq < MAX_FRAMES_PER_DIRECTION {
                let mut client = f.session(Role::Client);
                client.skip_send_to(genuine_seq);
                let genuine = client.seal(br#"{"type":"typing"}"#).expect("seal");
                assert_eq!(
                    server.open(&genuine).as_deref(),
                    Ok(&br#"{"type":"typing"}"#[..]),
                    "a refused frame spoiled the session for the next genuine one"
                );
            }
        }
    }
}

fn open_text(f: &Fixed, text: &str) {
    let Ok(frame) = Frame::from_json(text) else {
        return;
    };
    assert_eq!(Frame::from_json(&frame.to_json()).as_ref(), Ok(&frame));
    for state in 0..4 {
        open_in_state(f, &frame, state);
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn seal_round_trip(f: &Fixed, data: &[u8]) {
    let mut client = f.session(Role::Client);
    if data.len() > MAX_PLAINTEXT {
        assert_eq!(client.seal(data), Err(FrameError::TooLarge));
        return;
    }
    let seq = data
        .iter()
        .take(3)
        .fold(0u64, |a, &b| a << 8 | u64::from(b))
        % MAX_FRAMES_PER_DIRECTION;
    client.skip_send_to(seq);
    let frame = client.seal(data).expect("a frame within the limits seals");
    assert_eq!(frame.seq, seq);
    assert_eq!(client.next_send_seq(), seq + 1);
    assert_eq!(
        b64u_decode(&frame.ct).expect("own base64url").len(),
        data.len() + protocol::session::TAG_LEN
    );
    assert_eq!(Frame::from_json(&frame.to_json()).as_ref(), Ok(&frame));
    assert_eq!(
        f.session(Role::Server).open(&frame).as_deref(),
        Ok(data),
        "what the client seals, the server opens"
    );
    // The wrong direction: the client cannot open its own frame.
    assert_eq!(
        f.session(Role::Client).open(&frame),
        Err(FrameError::Authentication)
    );
    // Another seq under the same ciphertext.
    let moved = Frame {
        seq: seq ^ 1,
        ct: frame.ct.clone(),
    };
    assert_eq!(
        f.session(Role::Server).open(&moved),
        Err(FrameError::Authentication)
    );
    // One character changed.
    let mut ct = frame.ct.clone().into_bytes();
    let at = data.len() % ct.len();
    let old = ALPHABET
        .iter()
        .position(|&c| c == ct[at])
        .expect("alphabet");
    let step = 1 + usize::from(data.first().copied().unwrap_or(0)) % 63;
    ct[at] = ALPHABET[(old + step) % 64];
    let tampered = Frame {
        seq,
        ct: String::from_utf8(ct).expect("ascii"),
    };
    let result = f.session(Role::Server).open(&tampered);
    assert!(
        matches!(
            result,
            Err(FrameError::Authentication | FrameError::Malformed)
        ),
        "a tampered frame: {result:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    if let Ok(text) = std::str::from_utf8(data) {
        open_text(f, text);
    }
    seal_round_trip(f, data);
});
