//! The hash chain's byte formats: how an event is hashed and what a
//! checkpoint signs. Both are part of every stored log. Do not change.

use sha2::{Digest as _, Sha256};

/// `prev_hash` of the first event (and the empty log's head).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event exactly as stored: the hash covers these values as text, so
/// verification needs no parsing and notices any edit, even to nonsense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the log, from 1.
    pub seq: i64,
    /// UTC milliseconds since the epoch.
    pub at: i64,
    /// `patient`, `staff:<user id>` or `system`.
    pub actor: String,
    /// The action's dotted name.
    pub action: String,
    /// FHIR-style resource type of the entity, if any.
    pub entity_type: Option<String>,
    /// The entity's id, if any.
    pub entity_id: Option<String>,
    /// `success`, `failure`, `denied`, `error` or `interrupted`.
    pub outcome: String,
    /// The client's IP address, if known.
    pub client_addr: Option<String>,
    /// One-way digest of the session id, if any.
    pub session: Option<String>,
    /// The previous event's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// This event's hash, as stored.
    pub hash: String,
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v.as_bytes());
        }
    }
}

impl StoredEvent {
    /// The canonical encoding the hash is taken over.
    ///
    /// Do not change: field order matters; every stored hash depends on it.
    /// A domain label; `seq` and `at` as 8-byte big-endian signed integers;
    /// then `actor`, `action`, `entity_type`, `entity_id`, `outcome`,
    /// `client_addr`, `session`, `prev_hash`, each text as a 4-byte
    /// big-endian length and UTF-8 bytes, each optional one preceded by a
    /// byte 0 (absent) or 1 (present).
    #[must_use]
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        put(&mut out, b"carechat audit event v1");
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        put(&mut out, self.actor.as_bytes());
        put(&mut out, self.action.as_bytes());
        put_opt(&mut out, self.entity_type.as_deref());
        put_opt(&mut out, self.entity_id.as_deref());
        put(&mut out, self.outcome.as_bytes());
        put_opt(&mut out, self.client_addr.as_deref());
        put_opt(&mut out, self.session.as_deref());
        put(&mut out, self.prev_hash.as_bytes());
        out
    }

    /// Lower-case hex SHA-256 of [`Self::canonical`].
    #[must_use]
    pub fn compute_hash(&self) -> String {
        hex(&Sha256::digest(self.canonical()))
    }
}

/// What a checkpoint's signature covers.
///
/// Do not change: a domain label, then `seq` and `at` (8-byte big-endian),
/// then the event hash at `seq` (length-prefixed hex text).
#[must_use]
pub fn checkpoint_message(seq: i64, at: i64, hash: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    put(&mut out, b"carechat audit checkpoint v1");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&at.to_be_bytes());
    put(&mut out, hash.as_bytes());
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredEvent {
        StoredEvent {
            seq: 1,
            at: 1_700_000_000_000,
            actor: "patient".into(),
            action: "phi.read".into(),
            entity_type: Some("Appointment".into()),
            entity_id: Some("a1".into()),
            outcome: "success".into(),
            client_addr: Some("192.0.2.7".into()),
            session: Some("abc".into()),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn event_hash_format_is_stable() {
        // Pinned: a change here breaks every stored log.
        assert_eq!(
            sample().compute_hash(),
            "af37bf28c7e23c19ae7d92864b404b3601ec378daef07a44860422a79f9d1605"
        );
        let mut moved = sample();
        moved.entity_type = None;
        moved.entity_id = Some("Appointmenta1".into());
        assert_ne!(sample().compute_hash(), moved.compute_hash());
    }
}
