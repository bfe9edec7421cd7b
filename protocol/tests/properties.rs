//! Properties of sealed frames, checked on sessions made by real handshakes
//! (`ClientHandshake::start` + `handshake::server_accept` with `OsRng`):
//! every frame that was tampered with, sealed under another key, sid or
//! direction, replayed, or skipped ahead within a connection is refused; any
//! plaintext up to 16 KiB round-trips and nothing larger is sealed or opened.
//! After every refusal the receiver's state is unchanged: `last_received()`
//! is the same and the genuine next frame still opens.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use protocol::crypto::aead_seal;
use protocol::encoding::{b64u_decode, b64u_encode};
use protocol::handshake::{self, derive_keys};
use protocol::session::{
    frame_aad, frame_nonce, Direction, SessionKeys, MAX_PLAINTEXT, SID_LEN, TAG_LEN,
};
use protocol::{ClientHandshake, Frame, FrameError, IdentityKey, Role, Session, SessionId};
use rand_core::{OsRng, RngCore as _};

/// One identity key for the whole suite: a server keeps its identity across
/// handshakes, and generating one per case would only slow the suite down.
fn identity() -> &'static IdentityKey {
    static IDENTITY: OnceLock<IdentityKey> = OnceLock::new();
    IDENTITY.get_or_init(|| IdentityKey::generate(&mut OsRng))
}

/// A fresh handshake: `(client, server)` sessions sharing keys and sid.
fn handshake_pair() -> (Session, Session) {
    let identity = identity();
    let client = ClientHandshake::start(&mut OsRng);
    let (reply, server) = handshake::server_accept(identity, &client.hello(), &mut OsRng).unwrap();
    let client = client.finish(&reply, &identity.public()).unwrap();
    (client, server)
}

/// Session keys from random inputs, for the cases that need to build a
/// `Session` by hand (same keys under another sid, or equal keys both ways).
fn random_keys() -> SessionKeys {
    let mut z = [0u8; 32];
    let mut transcript = [0u8; 32];
    OsRng.fill_bytes(&mut z);
    OsRng.fill_bytes(&mut transcript);
    derive_keys(&z, &transcript).1
}

fn random_sid() -> SessionId {
    SessionId::random(&mut OsRng)
}

fn ct_bytes(frame: &Frame) -> Vec<u8> {
    b64u_decode(&frame.ct).unwrap()
}

fn with_ct(seq: u64, ct: &[u8]) -> Frame {
    Frame {
        seq,
        ct: b64u_encode(ct),
    }
}

/// Asserts that `receiver` refuses `frame` with `want` and that its state did
/// not move.
fn assert_refused(
    receiver: &mut Session,
    frame: &Frame,
    want: FrameError,
) -> Result<(), TestCaseError> {
    let before = receiver.last_received();
    let got = receiver.open(frame);
    prop_assert_eq!(got, Err(want));
    prop_assert_eq!(
        receiver.last_received(),
        before,
        "state moved on a refused frame"
    );
    Ok(())
}

/// A plaintext of up to `max` bytes (inclusive).
fn plaintext(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Flipping any bits of any one byte of the ciphertext or tag is caught.
    #[test]
    fn any_tampered_byte_fails_to_open(
        pt in plaintext(512),
        at in any::<Index>(),
        mask in 1u8..=255,
    ) {
        let (mut client, mut server) = handshake_pair();
        let frame = client.seal(&pt).unwrap();
        let mut ct = ct_bytes(&frame);
        let i = at.index(ct.len());
        ct[i] ^= mask;
        assert_refused(&mut server, &with_ct(frame.seq, &ct), FrameError::Authentication)?;
        prop_assert_eq!(server.open(&frame).unwrap(), pt);
    }

    /// Cutting any number of bytes off the end, or appending any, is caught.
    #[test]
    fn truncated_or_extended_ciphertext_fails_to_open(
        pt in plaintext(256),
        cut in any::<Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..32),
    ) {
        let (mut client, mut server) = handshake_pair();
        let frame = client.seal(&pt).unwrap();
        let ct = ct_bytes(&frame);
        let keep = cut.index(ct.len());
        let want = if keep < TAG_LEN { FrameError::Malformed } else { FrameError::Authentication };
        assert_refused(&mut server, &with_ct(frame.seq, &ct[..keep]), want)?;
        let mut longer = ct.clone();
        longer.extend_from_slice(&extra);
        assert_refused(&mut server, &with_ct(frame.seq, &longer), FrameError::Authentication)?;
        prop_assert_eq!(server.open(&frame).unwrap(), pt);
    }

    /// A frame from another handshake's client does not open here.
    #[test]
    fn frame_from_another_handshake_fails(pt in plaintext(512)) {
        let (mut client_a, mut server_a) = handshake_pair();
        let (_client_b, mut server_b) = handshake_pair();
        let frame = client_a.seal(&pt).unwrap();
        assert_refused(&mut server_b, &frame, FrameError::Authentication)?;
        prop_assert_eq!(server_a.open(&frame).unwrap(), pt);
    }

    /// Same sid, other keys: only the key differs, and that is enough.
    #[test]
    fn wrong_key_same_sid_fails(pt in plaintext(512)) {
        let (mut client, mut server) = handshake_pair();
        let mut impostor = Session::new(server.sid(), &random_keys(), Role::Server);
        let frame = client.seal(&pt).unwrap();
        assert_refused(&mut impostor, &frame, FrameError::Authentication)?;
        prop_assert_eq!(server.open(&frame).unwrap(), pt);
    }

    /// Same keys, other sid: the sid in the associated data is enough.
    #[test]
    fn wrong_sid_fails(pt in plaintext(512), flip in 0..SID_LEN, mask in 1u8..=255) {
        let keys = random_keys();
        let sid = random_sid();
        let mut other = sid;
        other.0[flip] ^= mask;
        let mut client = Session::new(sid, &keys, Role::Client);
        let mut server = Session::new(sid, &keys, Role::Server);
        let mut elsewhere = Session::new(other, &keys, Role::Server);
        let frame = client.seal(&pt).unwrap();
        assert_refused(&mut elsewhere, &frame, FrameError::Authentication)?;
        prop_assert_eq!(server.open(&frame).unwrap(), pt);
    }

    /// A side cannot open its own frames, whether a client reads its own
    /// output or a server's frame is reflected back to it.
    #[test]
    fn own_or_reflected_frame_fails(pt in plaintext(512)) {
        let (mut client, mut server) = handshake_pair();
        let to_server = client.seal(&pt).unwrap();
        let to_client = server.seal(&pt).unwrap();
        assert_refused(&mut client, &to_server, FrameError::Authentication)?;
        assert_refused(&mut server, &to_client, FrameError::Authentication)?;
        prop_assert_eq!(server.open(&to_server).unwrap(), pt.clone());
        prop_assert_eq!(client.open(&to_client).unwrap(), pt);
    }

    /// Even if both directions had the same key, the direction in the nonce
    /// and associated data alone stops a reflected frame.
    #[test]
    fn direction_alone_stops_reflection(pt in plaintext(512)) {
        let key = random_keys().c2s;
        let same_both_ways = SessionKeys { c2s: key.clone(), s2c: key };
        let sid = random_sid();
        let mut client = Session::new(sid, &same_both_ways, Role::Client);
        let mut server = Session::new(sid, &same_both_ways, Role::Server);
        let frame = client.seal(&pt).unwrap();
        assert_refused(&mut client, &frame, FrameError::Authentication)?;
        prop_assert_eq!(server.open(&frame).unwrap(), pt);
    }

    /// A repeated or lower `seq` is refused, within a connection and as the
    /// first frame of a new one.
    #[test]
    fn reused_or_lower_seq_fails(
        pts in prop::collection::vec(plaintext(64), 1..8),
        pick in any::<Index>(),
        new_connection in any::<bool>(),
    ) {
        let (mut client, mut server) = handshake_pair();
        let frames: Vec<Frame> = pts.iter().map(|p| client.seal(p).unwrap()).collect();
        for (frame, p) in frames.iter().zip(&pts) {
            prop_assert_eq!(&server.open(frame).unwrap(), p);
        }
        if new_connection {
            server.begin_connection();
        }
        let old = &frames[pick.index(frames.len())];
        assert_refused(&mut server, old, FrameError::Sequence)?;
        // The same old ciphertext relabelled with the next seq fails too.
        let relabelled = Frame { seq: client.next_send_seq(), ct: old.ct.clone() };
        assert_refused(&mut server, &relabelled, FrameError::Authentication)?;
        let next = client.seal(b"next").unwrap();
        prop_assert_eq!(server.open(&next).unwrap(), b"next".to_vec());
    }

    /// Within one connection each frame must carry exactly last + 1.
    #[test]
    fn skipped_seq_within_a_connection_fails(
        delivered in 1usize..6,
        skip in 1usize..6,
    ) {
        let (mut client, mut server) = handshake_pair();
        let frames: Vec<Frame> =
            (0..delivered + skip + 1).map(|i| client.seal(&[u8::try_from(i).unwrap()]).unwrap()).collect();
        for frame in &frames[..delivered] {
            server.open(frame).unwrap();
        }
        assert_refused(&mut server, &frames[delivered + skip], FrameError::Sequence)?;
        prop_assert_eq!(server.open(&frames[delivered]).unwrap(), vec![u8::try_from(delivered).unwrap()]);
    }

    /// On a new connection the first frame may skip ahead, but its seq is
    /// still authenticated: a frame relabelled to a later seq fails.
    #[test]
    fn relabelled_seq_at_connection_start_fails(pt in plaintext(256), ahead in 1u64..1000) {
        let (mut client, mut server) = handshake_pair();
        let frame = client.seal(&pt).unwrap();
        server.begin_connection();
        let relabelled = Frame { seq: frame.seq + ahead, ct: frame.ct.clone() };
        assert_refused(&mut server, &relabelled, FrameError::Authentication)?;
        prop_assert_eq!(server.open(&frame).unwrap(), pt);
    }

    /// Any plaintext up to 16 KiB round-trips in both directions.
    #[test]
    fn round_trip_up_to_16_kib(up in plaintext(MAX_PLAINTEXT), down in plaintext(MAX_PLAINTEXT)) {
        let (mut client, mut server) = handshake_pair();
        let frame = client.seal(&up).unwrap();
        prop_assert_eq!(ct_bytes(&frame).len(), up.len() + TAG_LEN);
        prop_assert_eq!(server.open(&Frame::from_json(&frame.to_json()).unwrap()).unwrap(), up);
        let frame = server.seal(&down).unwrap();
        prop_assert_eq!(client.open(&Frame::from_json(&frame.to_json()).unwrap()).unwrap(), down);
        prop_assert_eq!(server.last_received(), Some(0));
        prop_assert_eq!(client.last_received(), Some(0));
    }

    /// Interleaved traffic keeps both counters in step.
    #[test]
    fn interleaved_conversation_round_trips(
        turns in prop::collection::vec((any::<bool>(), plaintext(256)), 1..16),
    ) {
        let (mut client, mut server) = handshake_pair();
        for (from_client, pt) in &turns {
            let (sender, receiver) =
                if *from_client { (&mut client, &mut server) } else { (&mut server, &mut client) };
            let frame = sender.seal(pt).unwrap();
            prop_assert_eq!(&receiver.open(&frame).unwrap(), pt);
        }
    }

    /// Over 16 KiB is refused by the sender, which then has used no `seq`,
    /// and by the receiver even when the frame is authentic.
    #[test]
    fn plaintext_over_16_kib_is_refused(extra in 1usize..4096) {
        let pt = vec![0x5a; MAX_PLAINTEXT + extra];
        let keys = random_keys();
        let sid = random_sid();
        let mut client = Session::new(sid, &keys, Role::Client);
        let mut server = Session::new(sid, &keys, Role::Server);
        prop_assert_eq!(client.seal(&pt), Err(FrameError::TooLarge));
        prop_assert_eq!(client.next_send_seq(), 0);
        // Forge an authentic oversize frame with the real key.
        let dir = Direction::ClientToServer;
        let ct = aead_seal(&keys.c2s, &frame_nonce(dir, 0), &frame_aad(&sid, dir, 0), &pt).unwrap();
        assert_refused(&mut server, &with_ct(0, &ct), FrameError::TooLarge)?;
        let frame = client.seal(b"fits").unwrap();
        prop_assert_eq!(server.open(&frame).unwrap(), b"fits".to_vec());
    }
}

#[test]
fn plaintext_limit_is_exactly_16_kib() {
    let (mut client, mut server) = handshake_pair();
    let at_limit = vec![0xa5; MAX_PLAINTEXT];
    let frame = client.seal(&at_limit).unwrap();
    assert_eq!(server.open(&frame).unwrap(), at_limit);
    assert_eq!(
        client.seal(&[0xa5; MAX_PLAINTEXT + 1]),
        Err(FrameError::TooLarge)
    );
    assert_eq!(client.next_send_seq(), 1);
}
