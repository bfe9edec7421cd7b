//! `carechat keys rotate`: a new master key on disk and in the database.
//!
//! Order, so that a crash at any point leaves something that opens:
//! 1. the new key is written beside the current one as `master.key.next`
//!    (0600), and the current one copied to `master.key.previous`;
//! 2. one database transaction re-wraps every key under the new master key
//!    and activates a fresh data key;
//! 3. `master.key.next` is renamed over the current key file (atomic).
//!
//! A crash between 2 and 3 leaves the new key in `master.key.next`, which
//! the "wrong master key" error points to.

use std::path::{Path, PathBuf};

use super::config::{read_key_file, write_key_file, MasterKey, MasterKeySource};
use super::{StorageConfig, Store, StoreError};

/// What a rotation did, for the operator.
#[derive(Debug)]
pub struct Rotation {
    /// Fingerprint of the new master key.
    pub fingerprint: String,
    /// The new active data key.
    pub data_key_id: i64,
    /// Where the new key now is (the key file in use), if written by us.
    pub key_file: Option<PathBuf>,
    /// Where the old key was kept, to back up and then delete.
    pub previous_key_file: Option<PathBuf>,
    /// Whether `CARECHAT_MASTER_KEY` must be updated by the operator.
    pub update_env: bool,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// Rotates the master key of the store `config` describes. The new key is
/// read from `new_key_file`, or generated when none is given (only allowed
/// when the current key is a file).
///
/// # Errors
/// [`StoreError::MasterKey`] for file problems (nothing changed), or a
/// database error (the database is unchanged; remove `master.key.next`).
pub async fn rotate(
    config: &StorageConfig,
    new_key_file: Option<&Path>,
) -> Result<Rotation, StoreError> {
    let new_key = match new_key_file {
        Some(path) => read_key_file(path)?,
        None => MasterKey::generate(),
    };
    // File checks first: nothing is touched when they fail.
    match &config.master_key {
        MasterKeySource::Env(_) if new_key_file.is_none() => {
            return Err(StoreError::MasterKey(
                "comes from CARECHAT_MASTER_KEY, so rotation needs the new key in a file: pass --new-master-key-file (32 random bytes in base64, mode 0600)".into(),
            ));
        }
        MasterKeySource::File { path, .. } if sibling(path, ".previous").exists() => {
            return Err(StoreError::MasterKey(format!(
                "{} exists from an earlier rotation; back it up, delete it, and run again",
                sibling(path, ".previous").display()
            )));
        }
        _ => {}
    }
    let store = Store::open(config).await?;
    match &config.master_key {
        MasterKeySource::Env(_) => {
            let data_key_id = store.rotate_master_key(&new_key).await?;
            Ok(Rotation {
                fingerprint: new_key.fingerprint(),
                data_key_id,
                key_file: new_key_file.map(Path::to_path_buf),
                previous_key_file: None,
                update_env: true,
            })
        }
        MasterKeySource::File { path, .. } => {
            let next = sibling(path, ".next");
            let previous = sibling(path, ".previous");
            let current = read_key_file(path)?;
            write_key_file(&next, &new_key, true)?;
            write_key_file(&previous, &current, false)?;
            let data_key_id = match store.rotate_master_key(&new_key).await {
                Ok(id) => id,
                Err(e) => {
                    let _ = std::fs::remove_file(&next);
                    let _ = std::fs::remove_file(&previous);
                    return Err(e);
                }
            };
            std::fs::rename(&next, path).map_err(|e| {
                StoreError::MasterKey(format!(
                    "the database now uses the new key in {}, but moving it to {} failed ({e}); move it by hand",
                    next.display(),
                    path.display()
                ))
            })?;
            Ok(Rotation {
                fingerprint: new_key.fingerprint(),
                data_key_id,
                key_file: Some(path.clone()),
                previous_key_file: Some(previous),
                update_env: false,
            })
        }
    }
}
