//! Files only the server's own user may read: the data directory (0700)
//! and the records, outbox and key files in it (0600).
//!
//! The data directory holds the identity key, the master key, the SQLite
//! database and (in demo mode) the development outbox.
//! [`prepare_data_dir`] creates it 0700, and tightens an existing one that
//! group or others can enter (logging a warning), so a directory made by
//! hand with the default umask does not expose what goes into it.
//! [`open_append`] creates the append-only files 0600 whatever the umask.
//! [`check_owner_only`] refuses a secret someone else can read, such as
//! the EHR's private key, with the `chmod` to run.
//!
//! Elsewhere than Unix there are no mode bits, and these do nothing more
//! than create and open.

use std::path::{Path, PathBuf};

/// The data directory cannot be made private.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Creating, inspecting or tightening it failed.
    #[error("data directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The path exists and is not a directory.
    #[error("data directory {0} exists and is not a directory; set server.data_dir (or --data-dir) to a directory of its own")]
    NotADirectory(PathBuf),
    /// The directory is shared (sticky, like `/tmp`): not one to take over.
    #[error("data directory {0} is a shared directory (its sticky bit is set, like /tmp); set server.data_dir (or --data-dir) to a directory of its own, e.g. /var/lib/carechat")]
    Shared(PathBuf),
}

/// Creates the data directory (and parents) with mode 0700, or tightens an
/// existing one that group or others can use to 0700, with a warning.
///
/// # Errors
/// [`DataDirError`] when the directory cannot be created or tightened, is
/// not a directory, or is a shared one such as `/tmp`.
pub fn prepare_data_dir(dir: &Path) -> Result<(), DataDirError> {
    let io = |source| DataDirError::Io {
        path: dir.to_owned(),
        source,
    };
    if !dir.exists() {
        return crate::server_key::create_private_dir(dir).map_err(io);
    }
    let metadata = std::fs::metadata(dir).map_err(io)?;
    if !metadata.is_dir() {
        return Err(DataDirError::NotADirectory(dir.to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            if mode & 0o1000 != 0 {
                return Err(DataDirError::Shared(dir.to_owned()));
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
            tracing::warn!(
                path = %dir.display(),
                was = format!("{:o}", mode & 0o777),
                "the data directory could be read by other users; tightened it to 0700"
            );
        }
    }
    Ok(())
}

/// Opens `path` for appending, creating it with mode 0600; an existing file
/// that group or others can read is tightened to 0600 first.
///
/// # Errors
/// Any I/O error.
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            tracing::warn!(
                path = %path.display(),
                was = format!("{:o}", mode & 0o777),
                "a private file could be read by other users; tightened it to 0600"
            );
        }
    }
    Ok(file)
}

/// Checks that only the owner can read or change `path` (no group or other
/// bits), as a private key file must be.
///
/// # Errors
/// What is wrong, naming the file and the `chmod` that fixes it.
pub fn check_owner_only(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} can be read or changed by other users (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_data_directory_is_0700_and_an_open_one_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/data");
        prepare_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
    }

    #[test]
    fn a_shared_directory_or_a_file_is_not_taken_as_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("tmp");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = prepare_data_dir(&shared).unwrap_err();
        assert!(matches!(err, DataDirError::Shared(_)), "{err}");
        assert_eq!(mode(&shared), 0o1777, "left as it was");
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            prepare_data_dir(&file),
            Err(DataDirError::NotADirectory(_))
        ));
    }

    #[test]
    fn appended_files_are_0600_and_an_open_one_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        drop(open_append(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_append(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_key_others_can_read_is_refused_with_the_chmod_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "k").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let problem = check_owner_only(&path).unwrap_err();
        assert!(
            problem.contains("key.pem") && problem.contains("chmod 600"),
            "{problem}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_owner_only(&path).unwrap();
    }
}
