//! Sealed frames: the AES-256-GCM layer that every WebSocket message rides in,
//! and the `seq` bookkeeping that makes replayed, reordered, skipped or
//! dropped frames detectable.
//!
//! A [`Session`] is one side's view of a session: its own sending counter and
//! the highest `seq` it accepted from the peer. Any [`FrameError`] from
//! [`Session::open`] ends the connection and the session (close code 4400),
//! so the session's state is only advanced by frames that fully verify.
//!
//! Sealing and opening go through [`crate::crypto::aead_seal_with`] and
//! [`crate::crypto::aead_open_with`], the wrappers the Wycheproof tests run.

use aes_gcm::Aes256Gcm;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{aead_cipher, aead_open_with, aead_seal_with};
use crate::encoding::{b64u_decode, b64u_decode_fixed, b64u_encode};

/// Largest plaintext a frame may carry (16 KiB).
pub const MAX_PLAINTEXT: usize = 16 * 1024;
/// Length of the GCM tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;
/// After this many frames in one direction the session must end.
pub const MAX_FRAMES_PER_DIRECTION: u64 = 1 << 20;
/// Length of a session id in bytes.
pub const SID_LEN: usize = 16;
/// WebSocket close code: a frame was rejected, and the session ended with it.
pub const CLOSE_FRAME_REJECTED: u16 = 4400;
/// WebSocket close code: the session is unknown, expired, ended or out of frames.
pub const CLOSE_SESSION_GONE: u16 = 4401;
/// Associated-data prefix for every frame.
const AAD_LABEL: &[u8] = b"carechat-v1";

/// The 16-byte session id chosen by the server.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; SID_LEN]);

impl SessionId {
    /// A fresh random session id.
    pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut sid = [0u8; SID_LEN];
        rng.fill_bytes(&mut sid);
        Self(sid)
    }

    /// base64url, as it appears in `ServerHello.sid` and `/v1/ws?sid=`.
    #[must_use]
    pub fn to_b64u(&self) -> String {
        b64u_encode(&self.0)
    }

    /// Parses the base64url form.
    ///
    /// # Errors
    /// [`FrameError::Malformed`] unless it is exactly 16 bytes of base64url.
    pub fn from_b64u(text: &str) -> Result<Self, FrameError> {
        b64u_decode_fixed::<SID_LEN>(text)
            .map(Self)
            .map_err(|_| FrameError::Malformed)
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A session id is a bearer handle for reconnecting, so logs get a
        // short prefix only: enough to correlate, not enough to reconnect.
        write!(f, "sid:{}…", &self.to_b64u()[..6])
    }
}

/// Which way a frame travels. The value is part of every nonce and AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Direction {
    /// Browser to server, sealed with `k_c2s`.
    ClientToServer = 1,
    /// Server to browser, sealed with `k_s2c`.
    ServerToClient = 2,
}

/// Which end of the session this [`Session`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The widget: sends `ClientToServer`, receives `ServerToClient`.
    Client,
    /// The server: sends `ServerToClient`, receives `ClientToServer`.
    Server,
}

impl Role {
    fn directions(self) -> (Direction, Direction) {
        match self {
            Role::Client => (Direction::ClientToServer, Direction::ServerToClient),
            Role::Server => (Direction::ServerToClient, Direction::ClientToServer),
        }
    }
}

/// The two directional keys derived by the handshake. Zeroized on drop.
pub struct SessionKeys {
    /// `k_c2s`.
    pub c2s: Zeroizing<[u8; 32]>,
    /// `k_s2c`.
    pub s2c: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(***)")
    }
}

/// One frame as it travels in a WebSocket text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    /// The sender's counter for this direction.
    pub seq: u64,
    /// base64url of ciphertext with its 16-byte tag.
    pub ct: String,
}

impl Frame {
    /// Parses the JSON text of a WebSocket message.
    ///
    /// # Errors
    /// [`FrameError::Malformed`] for anything but `{"seq": u64, "ct": string}`.
    pub fn from_json(text: &str) -> Result<Self, FrameError> {
        serde_json::from_str(text).map_err(|_| FrameError::Malformed)
    }

    /// The JSON text to send.
    #[must_use]
    pub fn to_json(&self) -> String {
        // A struct of a u64 and a String cannot fail to serialize.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why a frame was refused or could not be sealed. Every variant ends the
/// connection and the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not a frame: bad JSON, bad base64url, or shorter than a tag.
    #[error("malformed frame")]
    Malformed,
    /// `seq` was repeated, lower, skipped ahead within a connection, or out of order.
    #[error("unexpected sequence number")]
    Sequence,
    /// The tag did not verify under this session's key, sid, direction and seq.
    #[error("frame failed authentication")]
    Authentication,
    /// The plaintext is over 16 KiB.
    #[error("frame too large")]
    TooLarge,
    /// The direction has used up its 2^20 frames; the session must end.
    #[error("session frame limit reached")]
    Exhausted,
    /// The plaintext is not a JSON message this side understands.
    #[error("frame content is not a valid message")]
    Content,
}

/// One side of an established session: keys, counters and the resume rules.
pub struct Session {
    sid: SessionId,
    role: Role,
    /// Keyed once per session rather than per frame, since AES key expansion
    /// would otherwise run on every message. The expanded round keys are
    /// wiped on drop: the crate enables the `aes` crate's `zeroize` feature.
    send: Aes256Gcm,
    recv: Aes256Gcm,
    /// The raw keys, kept only so that [`Session::export`] can hand the
    /// session to another server (wiped on drop).
    keys: SessionKeys,
    next_send_seq: u64,
    last_received: Option<u64>,
    at_connection_start: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("role", &self.role)
            .field("next_send_seq", &self.next_send_seq)
            .field("last_received", &self.last_received)
            .finish_non_exhaustive()
    }
}

fn nonce_bytes(dir: Direction, seq: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&(dir as u32).to_be_bytes());
    nonce[4..].copy_from_slice(&seq.to_be_bytes());
    nonce
}

/// `"carechat-v1" || sid || dir || seq`.
fn aad_bytes(sid: &SessionId, dir: Direction, seq: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + SID_LEN + 12);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(&sid.0);
    aad.extend_from_slice(&nonce_bytes(dir, seq));
    aad
}

/// The nonce for a frame, exposed for known-answer tests.
#[must_use]
pub fn frame_nonce(dir: Direction, seq: u64) -> [u8; 12] {
    nonce_bytes(dir, seq)
}

/// The associated data for a frame, exposed for known-answer tests.
#[must_use]
pub fn frame_aad(sid: &SessionId, dir: Direction, seq: u64) -> Vec<u8> {
    aad_bytes(sid, dir, seq)
}

/// Everything that rebuilds one side of a session elsewhere (another
/// server instance, or the same one after a restart): the keys and both
/// counters. It holds the keys, so whoever stores it must seal it first.
pub struct SessionState {
    /// The session id.
    pub sid: SessionId,
    /// Which end this is.
    pub role: Role,
    /// The directional keys.
    pub keys: SessionKeys,
    /// The `seq` the next sealed frame carries. A restored session must
    /// never seal below the highest `seq` it ever sent: store this before
    /// any frame sealed under it is sent.
    pub next_send_seq: u64,
    /// Highest `seq` accepted from the peer.
    pub last_received: Option<u64>,
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("sid", &self.sid)
            .field("role", &self.role)
            .field("next_send_seq", &self.next_send_seq)
            .field("last_received", &self.last_received)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a session from the handshake's keys. Nothing has been sent or
    /// received yet, and the first connection is about to open.
    #[must_use]
    pub fn new(sid: SessionId, keys: &SessionKeys, role: Role) -> Self {
        let c2s = aead_cipher(&keys.c2s);
        let s2c = aead_cipher(&keys.s2c);
        let (send, recv) = match role {
            Role::Client => (c2s, s2c),
            Role::Server => (s2c, c2s),
        };
        Self {
            sid,
            role,
            send,
            recv,
            keys: SessionKeys {
                c2s: keys.c2s.clone(),
                s2c: keys.s2c.clone(),
            },
            next_send_seq: 0,
            last_received: None,
            at_connection_start: true,
        }
    }

    /// The keys and counters, to rebuild this session with
    /// [`Self::restore`].
    #[must_use]
    pub fn export(&self) -> SessionState {
        SessionState {
            sid: self.sid,
            role: self.role,
            keys: SessionKeys {
                c2s: self.keys.c2s.clone(),
                s2c: self.keys.s2c.clone(),
            },
            next_send_seq: self.next_send_seq,
            last_received: self.last_received,
        }
    }

    /// Rebuilds a session from [`Self::export`]. It resumes on a new
    /// connection: the peer's first frame may skip ahead, never back.
    #[must_use]
    pub fn restore(state: &SessionState) -> Self {
        let mut session = Self::new(state.sid, &state.keys, state.role);
        session.next_send_seq = state.next_send_seq;
        session.last_received = state.last_received;
        session
    }

    /// The session id.
    #[must_use]
    pub fn sid(&self) -> SessionId {
        self.sid
    }

    /// Highest `seq` accepted from the peer: the `last_seq_received` of a `sync`.
    #[must_use]
    pub fn last_received(&self) -> Option<u64> {
        self.last_received
    }

    /// The `seq` the next sealed frame will carry.
    #[must_use]
    pub fn next_send_seq(&self) -> u64 {
        self.next_send_seq
    }

    /// Call when a new connection opens for this session: its first frame from
    /// the peer may skip ahead (never back).
    pub fn begin_connection(&mut self) {
        self.at_connection_start = true;
    }

    /// Puts the receive side in a known state, for tests and vectors: the next
    /// frame must carry `expect_seq` (mid-connection).
    pub fn expect_next(&mut self, expect_seq: u64) {
        self.last_received = expect_seq.checked_sub(1);
        self.at_connection_start = expect_seq == 0;
    }

    /// Sets the next sending `seq`, for known-answer tests that start mid-session.
    /// Never lowers the counter, so a `seq` is still never reused.
    pub fn skip_send_to(&mut self, seq: u64) {
        self.next_send_seq = self.next_send_seq.max(seq);
    }

    /// Seals one plaintext into the next frame.
    ///
    /// # Errors
    /// [`FrameError::TooLarge`] over 16 KiB; [`FrameError::Exhausted`] after
    /// 2^20 frames, when the session must end.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Frame, FrameError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(FrameError::TooLarge);
        }
        let seq = self.next_send_seq;
        if seq >= MAX_FRAMES_PER_DIRECTION {
            return Err(FrameError::Exhausted);
        }
        let (dir, _) = self.role.directions();
        let nonce = nonce_bytes(dir, seq);
        let aad = aad_bytes(&self.sid, dir, seq);
        let ct = aead_seal_with(&self.send, &nonce, &aad, plaintext)
            .map_err(|_| FrameError::TooLarge)?;
        self.next_send_seq = seq + 1;
        Ok(Frame {
            seq,
            ct: b64u_encode(&ct),
        })
    }

    /// Serializes and seals one message.
    ///
    /// # Errors
    /// As [`Self::seal`].
    pub fn seal_message<T: Serialize>(&mut self, message: &T) -> Result<Frame, FrameError> {
        let text = serde_json::to_vec(message).map_err(|_| FrameError::Content)?;
        self.seal(&text)
    }

    /// Checks `seq`, then authenticates and decrypts a frame from the peer.
    /// State only advances when everything verifies.
    ///
    /// # Errors
    /// Any [`FrameError`]; all of them end the session.
    pub fn open(&mut self, frame: &Frame) -> Result<Vec<u8>, FrameError> {
        let seq = frame.seq;
        if seq >= MAX_FRAMES_PER_DIRECTION {
            return Err(FrameError::Exhausted);
        }
        let in_order = match (self.last_received, self.at_connection_start) {
            (None, true) => true,
            (None, false) => seq == 0,
            (Some(last), true) => seq > last,
            (Some(last), false) => Some(seq) == last.checked_add(1),
        };
        if !in_order {
            return Err(FrameError::Sequence);
        }
        let ct = b64u_decode(&frame.ct).map_err(|_| FrameError::Malformed)?;
        if ct.len() < TAG_LEN {
            return Err(FrameError::Malformed);
        }
        if ct.len() - TAG_LEN > MAX_PLAINTEXT {
            return Err(FrameError::TooLarge);
        }
        let (_, dir) = self.role.directions();
        let nonce = nonce_bytes(dir, seq);
        let aad = aad_bytes(&self.sid, dir, seq);
        let plaintext = aead_open_with(&self.recv, &nonce, &aad, &ct)
            .map_err(|_| FrameError::Authentication)?;
        self.last_received = Some(seq);
        self.at_connection_start = false;
        Ok(plaintext)
    }

    /// Opens the first frame of a new connection: its `seq` may skip ahead
    /// of the highest accepted (never back). When it is not accepted, the
    /// session is exactly as before, so a stranger's connection (a replayed
    /// or forged frame) cannot disturb the connection in use.
    ///
    /// # Errors
    /// As [`Self::open`].
    pub fn open_first(&mut self, frame: &Frame) -> Result<Vec<u8>, FrameError> {
        let before = self.at_connection_start;
        self.at_connection_start = true;
        let opened = self.open(frame);
        if opened.is_err() {
            self.at_connection_start = before;
        }
        opened
    }

    /// Opens a frame and parses its JSON message.
    ///
    /// # Errors
    /// As [`Self::open`], or [`FrameError::Content`] if the plaintext is not
    /// a message of type `T`.
    pub fn open_message<T: serde::de::DeserializeOwned>(
        &mut self,
        frame: &Frame,
    ) -> Result<T, FrameError> {
        let plaintext = Zeroizing::new(self.open(frame)?);
        serde_json::from_slice(&plaintext).map_err(|_| FrameError::Content)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    fn pair() -> (Session, Session) {
        let keys = || SessionKeys {
            c2s: Zeroizing::new([1; 32]),
            s2c: Zeroizing::new([2; 32]),
        };
        let sid = SessionId([9; SID_LEN]);
        (
            Session::new(sid, &keys(), Role::Client),
            Session::new(sid, &keys(), Role::Server),
        )
    }

    #[test]
    fn a_restored_session_carries_on_where_the_exported_one_stopped() {
        let (mut client, mut server) = pair();
        let hello = client.seal(b"{\"a\":1}").expect("seals");
        server.open(&hello).expect("opens");
        let answer = server.seal(b"{\"b\":2}").expect("seals");
        client.open(&answer).expect("opens");

        let state = server.export();
        assert_eq!(state.next_send_seq, 1);
        assert_eq!(state.last_received, Some(0));
        let mut moved = Session::restore(&state);
        drop(server);

        // The widget reconnects: its first frame may skip ahead...
        client.skip_send_to(5);
        let first = client.seal(b"{}").expect("seals");
        assert_eq!(moved.open_first(&first).expect("opens"), b"{}");
        // ...and a replay of an older one is refused.
        assert_eq!(moved.open_first(&hello), Err(FrameError::Sequence));
        // The restored side never reuses a seq it sent.
        let next = moved.seal(b"{}").expect("seals");
        assert_eq!(next.seq, 1);
        client.begin_connection();
        assert_eq!(client.open(&next).expect("opens"), b"{}");
    }

    #[test]
    fn the_session_ends_after_two_to_the_twenty_frames_in_a_direction() {
        let (mut client, mut server) = pair();
        client.skip_send_to(MAX_FRAMES_PER_DIRECTION - 1);
        let last = client.seal(b"{}").expect("the last allowed frame seals");
        assert_eq!(server.open(&last).expect("and opens"), b"{}");
        assert_eq!(client.seal(b"{}"), Err(FrameError::Exhausted));

        let beyond = Frame {
            seq: MAX_FRAMES_PER_DIRECTION,
            ct: last.ct,
        };
        server.begin_connection();
        assert_eq!(server.open(&beyond), Err(FrameError::Exhausted));
    }

    #[test]
    fn a_refused_first_frame_of_a_new_connection_leaves_the_session_as_it_was() {
        let (mut client, mut server) = pair();
        let first = client.seal(b"{}").expect("seals");
        let second = client.seal(b"{}").expect("seals");
        server.open(&first).expect("opens");
        // A stranger's connection replays the captured first frame...
        assert_eq!(server.open_first(&first), Err(FrameError::Sequence));
        // ...and forges one further ahead.
        let forged = Frame {
            seq: second.seq + 5,
            ct: second.ct.clone(),
        };
        assert_eq!(server.open_first(&forged), Err(FrameError::Authentication));
        // The connection in use carries on: its next frame is exactly +1.
        assert_eq!(server.open(&second).expect("still in order"), b"{}");
        let skipped = client.seal(b"{}").expect("seals");
        let _ = client.seal(b"{}");
        let later = client.seal(b"{}").expect("seals");
        assert_eq!(server.open(&later), Err(FrameError::Sequence));
        // A real new connection may skip ahead.
        assert_eq!(server.open_first(&later).expect("opens"), b"{}");
        assert_eq!(server.open(&skipped), Err(FrameError::Sequence));
    }
}
