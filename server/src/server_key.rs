//! The server's identity key on disk: `identity.key` in the data directory,
//! a PKCS#8 PEM file readable by its owner only (mode 0600).
//!
//! The key signs every handshake; its public half is pinned in the embed
//! page. Losing it only means browsers pin a new key on their next page load;
//! leaking it lets someone impersonate this server to patients, so the file
//! is created with restrictive permissions and refused if others can read it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use protocol::IdentityKey;

/// File name of the identity key inside the data directory.
pub const FILE_NAME: &str = "identity.key";

/// Problems with the identity key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("identity key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file exists but is not a P-256 PKCS#8 PEM key.
    #[error("identity key file {0} is not a P-256 private key in PKCS#8 PEM form; move it away to have a new key generated")]
    Format(PathBuf),
    /// Group or others may read the file.
    #[error("identity key file {0} can be read by other users; run `chmod 600` on it")]
    Permissions(PathBuf),
    /// `init` would overwrite an existing key.
    #[error("identity key file {0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Loads the key, generating and saving one if the file does not exist.
/// Returns the key and whether it was generated now.
///
/// # Errors
/// [`KeyFileError`] when the file cannot be read or written, is not a key,
/// or is readable by others.
pub fn load_or_generate(data_dir: &Path) -> Result<(IdentityKey, bool), KeyFileError> {
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        return load(&path).map(|key| (key, false));
    }
    generate(data_dir).map(|key| (key, true))
}

/// Generates a new key file; refuses to overwrite one.
///
/// # Errors
/// [`KeyFileError::Exists`] if there is one, or an I/O error.
pub fn generate(data_dir: &Path) -> Result<IdentityKey, KeyFileError> {
    let path = data_dir.join(FILE_NAME);
    create_private_dir(data_dir).map_err(io(data_dir))?;
    let key = IdentityKey::generate(&mut rand_core::OsRng);
    let signing = SigningKey::from_slice(key.to_scalar_bytes().as_ref())
        .map_err(|_| KeyFileError::Format(path.clone()))?;
    let pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyFileError::Format(path.clone()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists(path.clone())
        } else {
            io(&path)(e)
        }
    })?;
    file.write_all(pem.as_bytes()).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))?;
    Ok(key)
}

fn load(path: &Path) -> Result<IdentityKey, KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(io(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions(path.to_owned()));
        }
    }
    let pem = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(io(path))?);
    let signing =
        SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyFileError::Format(path.to_owned()))?;
    IdentityKey::from_scalar_bytes(&signing.to_bytes())
        .map_err(|_| KeyFileError::Format(path.to_owned()))
}

/// Creates a directory (and parents) that only the owner can enter.
///
/// # Errors
/// Any I/O error.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generates_once_then_loads_the_same_key_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let (first, generated) = load_or_generate(dir.path()).unwrap();
        assert!(generated);
        let (second, generated) = load_or_generate(dir.path()).unwrap();
        assert!(!generated);
        assert_eq!(first.public(), second.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(generate(dir.path()), Err(KeyFileError::Exists(_))));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_key_others_can_read_and_a_file_that_is_not_a_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        load_or_generate(dir.path()).unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_generate(dir.path()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::write(&path, "not a key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_generate(dir.path()),
            Err(KeyFileError::Format(_))
        ));
    }
}
