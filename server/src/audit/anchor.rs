//! The anchor: signed heads of the chain written outside the database.
//!
//! Whoever can rewrite the database can cut the newest events off, delete
//! the checkpoints after them and move `audit_head` back: what is left is
//! a shorter log that is consistent in itself. Only a record kept where
//! the database cannot reach notices. So after every append (and every
//! checkpoint) the log appends one line to `audit.anchor_file`, a file
//! outside the data directory (make it append-only, `chattr +a`, or ship it
//! to another host), naming the head it reached, signed with the audit key:
//!
//! `v1 <seq> <at ms> <event hash at seq> <key id> <base64url signature>`
//!
//! The signature is over [`super::chain::checkpoint_message`]: a line is a
//! checkpoint kept elsewhere. [`super::verify`] checks the newest valid
//! line: the log must reach that position with that hash (the chain then
//! vouches for every event before it). A log that is shorter was
//! truncated; one with another hash there was rewritten. The file may be
//! rotated as long as the newest line stays.
//!
//! Lines hold positions and hashes only: no PHI, no session.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use protocol::IdentityKey;

use super::chain::checkpoint_message;

/// The anchor file's line format version.
const VERSION: &str = "v1";

/// Appends signed heads to the anchor file.
#[derive(Debug, Clone)]
pub struct Anchor {
    path: PathBuf,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorLine {
    /// The head's position.
    pub seq: i64,
    /// When it was anchored (UTC milliseconds).
    pub at: i64,
    /// The event hash at `seq`.
    pub hash: String,
    /// The signing key's id.
    pub key_id: String,
    /// base64url `r || s`.
    pub signature: String,
}

impl AnchorLine {
    /// Parses one line, `None` if it is not one.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let (Some(VERSION), Some(seq), Some(at), Some(hash), Some(key_id), Some(sig), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        Some(Self {
            seq: seq.parse().ok()?,
            at: at.parse().ok()?,
            hash: hash.to_owned(),
            key_id: key_id.to_owned(),
            signature: sig.to_owned(),
        })
    }

    /// Whether `key` signed it.
    #[must_use]
    pub fn verifies(&self, key: &protocol::IdentityPublicKey) -> bool {
        B64U.decode(self.signature.as_bytes())
            .is_ok_and(|sig| key.verify(&checkpoint_message(self.seq, self.at, &self.hash), &sig))
    }
}

impl Anchor {
    /// An anchor at `path` (nothing is opened yet).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens (creating) the file for appending and closes it again: at
    /// start-up, so a missing directory or a read-only file stops the
    /// server rather than every later PHI access.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn ensure(&self) -> std::io::Result<()> {
        self.open().map(drop)
    }

    fn open(&self) -> std::io::Result<std::fs::File> {
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o640);
        }
        options.open(&self.path)
    }

    /// Appends the signed head `seq`/`hash`, anchored at `at`. The file is
    /// opened for each line (so a rotated file is picked up) and created,
    /// readable by its owner and group, if missing; its directory must
    /// exist.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn append(&self, key: &IdentityKey, seq: i64, at: i64, hash: &str) -> std::io::Result<()> {
        let signature = key.sign(&checkpoint_message(seq, at, hash));
        let line = format!(
            "{VERSION} {seq} {at} {hash} {} {}\n",
            key.public().key_id(),
            B64U.encode(signature)
        );
        let mut file = self.open()?;
        // One write of one short line: appends from several tasks do not
        // interleave.
        file.write_all(line.as_bytes())
    }
}

/// What reading the anchor file found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan {
    /// Lines read, with their 1-based numbers.
    pub lines: Vec<(u64, Option<AnchorLine>)>,
}

/// Reads every line of `path` (a missing file has none).
pub(crate) fn scan(path: &Path) -> std::io::Result<Scan> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Scan::default()),
        Err(e) => return Err(e),
    };
    let mut out = Scan::default();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let number = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        out.lines.push((number, AnchorLine::parse(line.trim_end())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_line_round_trips_and_verifies_only_under_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let anchor = Anchor::new(dir.path().join("anchor"));
        let key = IdentityKey::generate(&mut rand_core::OsRng);
        anchor.append(&key, 7, 1_700_000_000_000, "ab12").unwrap();
        anchor.append(&key, 8, 1_700_000_000_001, "cd34").unwrap();
        let found = scan(anchor.path()).unwrap();
        assert_eq!(found.lines.len(), 2);
        let (number, line) = &found.lines[1];
        assert_eq!(*number, 2);
        let line = line.clone().unwrap();
        assert_eq!((line.seq, line.hash.as_str()), (8, "cd34"));
        assert!(line.verifies(&key.public()));
        let other = IdentityKey::generate(&mut rand_core::OsRng);
        assert!(!line.verifies(&other.public()));
        let mut forged = line;
        forged.seq = 9;
        assert!(!forged.verifies(&key.public()));
        assert!(AnchorLine::parse("v1 1 2 3").is_none());
        assert!(scan(&dir.path().join("nothing")).unwrap().lines.is_empty());
    }
}
