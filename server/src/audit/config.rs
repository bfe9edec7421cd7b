//! The `[audit]` settings: where the signed heads are anchored outside the
//! database, how often a checkpoint is signed, and whether a start-up ends
//! the chat sessions the previous run left open.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::DEFAULT_CHECKPOINT_EVERY;

/// The environment variable that sets `audit.anchor_file`.
pub const ANCHOR_FILE_ENV: &str = "CARECHAT_AUDIT_ANCHOR_FILE";

/// The most events allowed between checkpoints.
pub const MAX_CHECKPOINT_EVERY: u64 = 10_000;

/// `[audit]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// A file outside the data directory that every signed head is
    /// appended to, one line each.
    anchor_file: Option<PathBuf>,
    /// Events between signed checkpoints (default 100).
    checkpoint_every: Option<u64>,
    /// Whether start-up records `session.end` for sessions the previous
    /// run left open (default true).
    restart_ends_sessions: Option<bool>,
}

/// The validated `[audit]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Where signed heads are anchored, if anywhere.
    pub anchor_file: Option<PathBuf>,
    /// Events between signed checkpoints: a checkpoint at every multiple
    /// is required, so a missing one is tampering.
    pub checkpoint_every: u64,
    /// Whether start-up ends the sessions the previous run left open.
    pub restart_ends_sessions: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            anchor_file: None,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            restart_ends_sessions: true,
        }
    }
}

impl RawAudit {
    /// Applies [`ANCHOR_FILE_ENV`].
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) {
        if let Some(v) = env(ANCHOR_FILE_ENV) {
            let v = v.trim();
            self.anchor_file = (!v.is_empty()).then(|| PathBuf::from(v));
        }
    }

    /// Checks the settings; the anchor file must lie outside `data_dir`
    /// (whoever can rewrite the database files must not reach it).
    ///
    /// # Errors
    /// The setting's dotted name and what to change.
    pub fn validate(self, data_dir: &Path) -> Result<AuditConfig, (&'static str, String)> {
        let checkpoint_every = self.checkpoint_every.unwrap_or(DEFAULT_CHECKPOINT_EVERY);
        if checkpoint_every == 0 || checkpoint_every > MAX_CHECKPOINT_EVERY {
            return Err((
                "audit.checkpoint_every",
                format!("is {checkpoint_every}; it must be between 1 and {MAX_CHECKPOINT_EVERY} (the default is {DEFAULT_CHECKPOINT_EVERY})"),
            ));
        }
        if let Some(file) = &self.anchor_file {
            if file.as_os_str().is_empty() || file.file_name().is_none() {
                return Err(("audit.anchor_file", "must name a file".into()));
            }
            if inside(file, data_dir) {
                return Err((
                    "audit.anchor_file",
                    format!(
                        "{} is inside the data directory {}; put it where the database cannot rewrite it, e.g. \"/var/log/carechat/audit-anchor\"",
                        file.display(),
                        data_dir.display()
                    ),
                ));
            }
        }
        Ok(AuditConfig {
            anchor_file: self.anchor_file,
            checkpoint_every,
            restart_ends_sessions: self.restart_ends_sessions.unwrap_or(true),
        })
    }
}

/// Whether `file` lies in `dir` (compared as absolute paths, resolved as
/// far as they exist).
fn inside(file: &Path, dir: &Path) -> bool {
    let absolute = |p: &Path| {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().map_or_else(|_| p.to_path_buf(), |cwd| cwd.join(p))
        };
        p.canonicalize().unwrap_or(p)
    };
    let parent = file.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    absolute(&parent).starts_with(absolute(dir))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let config = RawAudit::default().validate(dir.path()).unwrap();
        assert_eq!(config, AuditConfig::default());
        let zero = RawAudit {
            checkpoint_every: Some(0),
            ..RawAudit::default()
        };
        let (setting, _) = zero.validate(dir.path()).unwrap_err();
        assert_eq!(setting, "audit.checkpoint_every");
    }

    #[test]
    fn the_anchor_file_must_be_outside_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut raw = RawAudit::default();
        raw.apply_env(|k| {
            (k == ANCHOR_FILE_ENV).then(|| data.join("anchor").display().to_string())
        });
        let (setting, problem) = raw.validate(&data).unwrap_err();
        assert_eq!(setting, "audit.anchor_file");
        assert!(problem.contains("inside the data directory"), "{problem}");
        let outside = RawAudit {
            anchor_file: Some(dir.path().join("anchor")),
            ..RawAudit::default()
        };
        assert_eq!(
            outside.validate(&data).unwrap().anchor_file,
            Some(dir.path().join("anchor"))
        );
    }
}
