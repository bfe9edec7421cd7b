//! The `[storage]` settings and the master key: where the database is, and
//! where the key that wraps every data key comes from (the
//! `CARECHAT_MASTER_KEY` variable or a 0600 key file).

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::StoreError;

/// Environment variable holding the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "CARECHAT_MASTER_KEY";
/// Environment variable overriding `storage.url`.
pub const DATABASE_URL_ENV: &str = "CARECHAT_DATABASE_URL";
/// File name of the generated master key inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// File name of the SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "carechat.db";

/// The `[storage]` section as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// `sqlite://path` or `postgres://user@host/db`; default: SQLite in the
    /// data directory.
    pub url: Option<String>,
    /// The master key file; default `<data_dir>/master.key`.
    pub master_key_file: Option<PathBuf>,
}

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server, shareable by several `carechat` instances.
    Postgres,
}

/// The 256-bit key that wraps data keys. Never printed, zeroized on drop.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// A fresh key from the OS CSPRNG.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, bytes.as_mut());
        Self(bytes)
    }

    /// Parses base64 (standard or URL-safe, padded or not) of 32 bytes.
    /// The error says what is wrong without echoing the text.
    ///
    /// # Errors
    /// A description of the problem.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let text = Zeroizing::new(text.trim().trim_end_matches('=').to_owned());
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.as_bytes())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.as_bytes()))
            .map(Zeroizing::new)
            .map_err(|_| "is not base64".to_owned())?;
        if decoded.len() != 32 {
            return Err(format!(
                "is {} bytes; it must be 32 random bytes in base64 (e.g. `head -c 32 /dev/urandom | base64`)",
                decoded.len()
            ));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&decoded);
        Ok(Self(bytes))
    }

    /// The key as standard base64, for writing a key file.
    #[must_use]
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_ref()))
    }

    /// A short public fingerprint (hex of the first 8 bytes of a domain-
    /// separated SHA-256), stored beside each wrapped key so a wrong master
    /// key is reported as such.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"carechat master key fingerprint v1")
            .chain_update(self.0.as_ref())
            .finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, ***)", self.fingerprint())
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// `CARECHAT_MASTER_KEY`, already decoded.
    Env(MasterKey),
    /// A key file.
    File {
        /// The file.
        path: PathBuf,
        /// Whether a missing file may be generated (only the default path).
        generate_if_missing: bool,
    },
}

/// The validated storage settings.
#[derive(Clone)]
pub struct StorageConfig {
    /// The database URL (`sqlite://...?mode=rwc` or `postgres://...`).
    pub url: String,
    /// Which backend the URL selects.
    pub backend: Backend,
    /// The master key's source.
    pub master_key: MasterKeySource,
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("url", &redact_url(&self.url))
            .field("backend", &self.backend)
            .field("master_key", &self.master_key)
            .finish()
    }
}

/// The URL with any password replaced by `***`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl RawStorage {
    /// Checks the settings and derives the [`StorageConfig`]. `env` looks up
    /// `CARECHAT_MASTER_KEY` and `CARECHAT_DATABASE_URL`.
    ///
    /// # Errors
    /// The setting at fault and what to change.
    pub fn validate(
        self,
        data_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<StorageConfig, (&'static str, String)> {
        let (setting, url) = match (env(DATABASE_URL_ENV), self.url) {
            (Some(url), _) => (DATABASE_URL_ENV, url),
            (None, Some(url)) => ("storage.url", url),
            (None, None) => (
                "storage.url",
                format!("sqlite://{}?mode=rwc", data_dir.join(SQLITE_FILE).display()),
            ),
        };
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err((
                setting,
                format!(
                    "{:?} is not a database URL; use \"sqlite://path/to/carechat.db\" or \"postgres://user@host/dbname\", or remove it for SQLite in the data directory",
                    redact_url(&url)
                ),
            ));
        };
        let url = if backend == Backend::Sqlite && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url
        };
        let master_key = if let Some(text) = env(MASTER_KEY_ENV) {
            let key = MasterKey::from_base64(&Zeroizing::new(text))
                .map_err(|problem| (MASTER_KEY_ENV, problem))?;
            MasterKeySource::Env(key)
        } else if let Some(path) = self.master_key_file {
            if !path.exists() {
                return Err((
                    "storage.master_key_file",
                    format!(
                        "{} does not exist; create it with `head -c 32 /dev/urandom | base64 > {0} && chmod 600 {0}`, or remove the setting to use a key generated in the data directory",
                        path.display()
                    ),
                ));
            }
            MasterKeySource::File {
                path,
                generate_if_missing: false,
            }
        } else {
            MasterKeySource::File {
                path: data_dir.join(MASTER_KEY_FILE),
                generate_if_missing: true,
            }
        };
        Ok(StorageConfig {
            url,
            backend,
            master_key,
        })
    }
}

impl StorageConfig {
    /// The default key file, when it is missing and would be generated by
    /// [`StorageConfig::load_master_key`]. [`super::Store::open`] generates
    /// it only for a database that holds no keys yet.
    #[must_use]
    pub fn master_key_to_generate(&self) -> Option<&Path> {
        match &self.master_key {
            MasterKeySource::File {
                path,
                generate_if_missing: true,
            } if !path.exists() => Some(path),
            _ => None,
        }
    }

    /// Loads the master key, generating the default key file on first use
    /// (call it through [`super::Store::open`], which first makes sure the
    /// database holds no keys a new one could not open).
    ///
    /// # Errors
    /// [`StoreError::MasterKey`] when the file is missing, unreadable,
    /// readable by others or not a key.
    pub fn load_master_key(&self) -> Result<MasterKey, StoreError> {
        match &self.master_key {
            MasterKeySource::Env(key) => Ok(key.clone()),
            MasterKeySource::File {
                path,
                generate_if_missing,
            } => {
                if !path.exists() && *generate_if_missing {
                    if let Some(dir) = path.parent() {
                        crate::server_key::create_private_dir(dir)
                            .map_err(|e| key_error(path, &e.to_string()))?;
                    }
                    let key = MasterKey::generate();
                    if let Err(e) = write_key_file(path, &key, false) {
                        // Another process generated it first: use theirs.
                        if path.exists() {
                            return read_key_file(path);
                        }
                        return Err(e);
                    }
                    tracing::info!(path = %path.display(), fingerprint = key.fingerprint(), "generated a new storage master key; back it up: without it the stored data cannot be read");
                    return Ok(key);
                }
                read_key_file(path)
            }
        }
    }
}

pub(crate) fn key_error(path: &Path, problem: &str) -> StoreError {
    StoreError::MasterKey(format!("{}: {problem}", path.display()))
}

/// Reads a key file, refusing one that group or others can read.
///
/// # Errors
/// [`StoreError::MasterKey`].
pub fn read_key_file(path: &Path) -> Result<MasterKey, StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| key_error(path, &e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(key_error(
                path,
                "can be read by other users; run `chmod 600` on it",
            ));
        }
    }
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| key_error(path, &e.to_string()))?);
    MasterKey::from_base64(&text).map_err(|problem| key_error(path, &problem))
}

/// Writes a key file with mode 0600: with `replace`, atomically through a
/// temporary file beside it; without, refusing to overwrite.
///
/// # Errors
/// [`StoreError::MasterKey`].
pub fn write_key_file(path: &Path, key: &MasterKey, replace: bool) -> Result<(), StoreError> {
    let target = if replace {
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(".tmp");
        path.with_file_name(name)
    } else {
        path.to_owned()
    };
    if replace {
        let _ = std::fs::remove_file(&target);
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&target)
        .map_err(|e| key_error(&target, &e.to_string()))?;
    let text = key.to_base64();
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| key_error(&target, &e.to_string()))?;
    if replace {
        std::fs::rename(&target, path).map_err(|e| key_error(path, &e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_to_sqlite_and_a_generated_key_in_the_data_dir() {
        let config = RawStorage::default()
            .validate(Path::new("/srv/cc"), |_| None)
            .unwrap();
        assert_eq!(config.backend, Backend::Sqlite);
        assert_eq!(config.url, "sqlite:///srv/cc/carechat.db?mode=rwc");
        assert!(matches!(
            config.master_key,
            MasterKeySource::File { generate_if_missing: true, ref path } if path == Path::new("/srv/cc/master.key")
        ));
    }

    #[test]
    fn explains_bad_urls_and_keys_without_echoing_secrets() {
        let bad = RawStorage {
            url: Some("mysql://u:hunter2@h/db".into()),
            master_key_file: None,
        };
        let (setting, problem) = bad.validate(Path::new("/d"), |_| None).unwrap_err();
        assert_eq!(setting, "storage.url");
        assert!(!problem.contains("hunter2"), "{problem}");
        let (setting, problem) = RawStorage::default()
            .validate(Path::new("/d"), |n| {
                (n == MASTER_KEY_ENV).then(|| "c2VjcmV0".to_owned())
            })
            .unwrap_err();
        assert_eq!(setting, MASTER_KEY_ENV);
        assert!(problem.contains("32"), "{problem}");
        let missing = RawStorage {
            url: None,
            master_key_file: Some("/nonexistent/k".into()),
        };
        let (setting, _) = missing.validate(Path::new("/d"), |_| None).unwrap_err();
        assert_eq!(setting, "storage.master_key_file");
    }

    #[test]
    fn a_postgres_url_selects_postgres_and_its_password_is_not_printed() {
        let config = RawStorage {
            url: Some("postgres://cc:s3cret@db.internal/carechat".into()),
            master_key_file: None,
        }
        .validate(Path::new("/d"), |_| None)
        .unwrap();
        assert_eq!(config.backend, Backend::Postgres);
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        let key = MasterKey::generate();
        assert!(!format!("{key:?}").contains(key.to_base64().as_str()));
    }

    #[cfg(unix)]
    #[test]
    fn the_default_key_file_is_generated_0600_and_refused_when_others_can_read_it() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let config = RawStorage::default()
            .validate(dir.path(), |_| None)
            .unwrap();
        let first = config.load_master_key().unwrap();
        let second = config.load_master_key().unwrap();
        assert_eq!(first.fingerprint(), second.fingerprint());
        let path = dir.path().join(MASTER_KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = config.load_master_key().unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
