//! Storage: envelope encryption, the encrypted transcript, migrations and
//! master-key rotation, each scenario on SQLite and on a real PostgreSQL
//! server started by the test binary (`pg`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;

use std::path::Path;

use carechat::phi::Phi;
use carechat::store::config::{MasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE};
use carechat::store::{aad, rotate, Backend, RawStorage, Sealed, StorageConfig, Store, StoreError};
use chrono::{TimeZone as _, Utc};
use sqlx::Row as _;

use backends::Db;

/// The config with the master key in `CARECHAT_MASTER_KEY`.
fn config_with_env_key(db: &Db, key: &MasterKey) -> StorageConfig {
    let text = key.to_base64().to_string();
    RawStorage {
        url: Some(db.url.clone()),
        master_key_file: None,
    }
    .validate(db.dir.path(), move |name| {
        (name == MASTER_KEY_ENV).then(|| text.clone())
    })
    .unwrap()
}

on_both_backends!(
    seal_round_trips_and_is_bound_to_its_context_and_key,
    typed_phi_round_trips,
    transcript_is_stored_sealed_and_read_back_in_order,
    nothing_phi_like_appears_in_the_raw_database,
    rotation_rewraps_keys_old_and_new_data_read_with_the_new_key_only,
    rotation_with_an_environment_key_needs_a_new_key_file,
    blind_index_is_keyed_per_domain_and_survives_rotation,
    migrations_run_once_and_concurrent_first_opens_agree,
    cli_keys_rotate_replaces_the_key_file_and_keeps_the_old_one_aside,
);

fn flip_one_byte(sealed: &Sealed) -> Sealed {
    let text = sealed.as_stored();
    let (head, tail) = text.rsplit_once('.').unwrap();
    let mut bytes = tail.as_bytes().to_vec();
    // Change one base64url character of the ciphertext.
    bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
    Sealed::from_stored(format!("{head}.{}", String::from_utf8(bytes).unwrap()))
}

async fn seal_round_trips_and_is_bound_to_its_context_and_key(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let here = aad("patients", "dob", &["p1"]);
    let sealed = store.seal(&here, b"1984-03-02").unwrap();
    assert_eq!(
        store.unseal(&here, &sealed).unwrap().as_slice(),
        b"1984-03-02"
    );
    assert!(
        sealed.as_stored().starts_with("v1.1."),
        "{}",
        sealed.as_stored()
    );
    assert_ne!(
        store.seal(&here, b"1984-03-02").unwrap(),
        sealed,
        "a fresh nonce per seal"
    );

    let other_column = aad("patients", "phone", &["p1"]);
    let other_row = aad("patients", "dob", &["p2"]);
    let other_table = aad("staff", "dob", &["p1"]);
    for wrong in [&other_column, &other_row, &other_table] {
        assert!(matches!(
            store.unseal(wrong, &sealed),
            Err(StoreError::Unseal)
        ));
    }
    assert!(matches!(
        store.unseal(&here, &flip_one_byte(&sealed)),
        Err(StoreError::Unseal)
    ));
    assert!(matches!(
        store.unseal(&here, &Sealed::from_stored("v1.1.garbage".into())),
        Err(StoreError::Malformed)
    ));
    let renamed = Sealed::from_stored(sealed.as_stored().replacen("v1.1.", "v1.9.", 1));
    assert!(matches!(
        store.unseal(&here, &renamed),
        Err(StoreError::UnknownDataKey(9))
    ));

    // Another master key: the database refuses to open with it, and a
    // store under another master key cannot open this ciphertext.
    let other_key = MasterKey::generate();
    let err = Store::open(&config_with_env_key(&db, &other_key))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongMasterKey { .. }), "{err}");
    let elsewhere = Db::sqlite().await;
    let other_store = Store::open(&config_with_env_key(&elsewhere, &other_key))
        .await
        .unwrap();
    assert!(matches!(
        other_store.unseal(&here, &sealed),
        Err(StoreError::Unseal)
    ));
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Contact {
    phone: String,
    email: Option<String>,
}

async fn typed_phi_round_trips(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let value = Phi::new(Contact {
        phone: "+1 555 0100".into(),
        email: None,
    });
    let ctx = aad("contacts", "value", &["c1"]);
    let sealed = store.seal_phi(&ctx, &value).unwrap();
    let back: Phi<Contact> = store.unseal_phi(&ctx, &sealed).unwrap();
    assert_eq!(back.expose(), value.expose());
    assert_eq!(format!("{back:?}"), "Phi(..)");
    assert!(!format!("{sealed:?}").contains("555"));
    let wrong: Result<Phi<u32>, _> = store.unseal_phi(&ctx, &sealed);
    assert!(matches!(wrong, Err(StoreError::Encoding)));
}

async fn transcript_is_stored_sealed_and_read_back_in_order(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 9, 30, 0).unwrap();
    let lines = [
        ("patient", "When is my next appointment?"),
        ("assistant", "Tuesday at 10:00 with Dr. Patel."),
        ("patient", "Thanks"),
    ];
    for (i, (role, text)) in lines.iter().enumerate() {
        let at = t0 + chrono::Duration::seconds(i64::try_from(i).unwrap());
        store
            .append_message("session-A", role, &Phi::new((*text).to_owned()), at)
            .await
            .unwrap();
    }
    store
        .append_message("session-B", "patient", &Phi::new("other".into()), t0)
        .await
        .unwrap();
    let read = store.transcript("session-A").await.unwrap();
    assert_eq!(read.len(), 3);
    for (i, (message, (role, text))) in read.iter().zip(lines).enumerate() {
        assert_eq!(message.role, role);
        assert_eq!(message.text.expose(), text);
        assert_eq!(
            message.at,
            t0 + chrono::Duration::seconds(i64::try_from(i).unwrap())
        );
    }
    assert!(store.transcript("session-C").await.unwrap().is_empty());

    // Concurrent appends to one session all land, in distinct positions.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append_message("session-D", "patient", &Phi::new(format!("m{i}")), t0)
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.transcript("session-D").await.unwrap().len(), 8);

    // A body moved to another position does not open.
    sqlx::query("UPDATE transcript SET body = (SELECT body FROM transcript t WHERE t.session = transcript.session AND t.seq = 2) WHERE seq = 1 AND EXISTS (SELECT 1 FROM transcript t WHERE t.session = transcript.session AND t.seq = 2)")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(store.transcript("session-A").await.is_err());
}

const MARKER: &str = "ZQX-MARKER-7731 Jane Roe 1984-03-02";
const SESSION: &str = "SESSIONID-4417-raw";

async fn nothing_phi_like_appears_in_the_raw_database(db: Db) {
    let config = db.config();
    let store = Store::open(&config).await.unwrap();
    store
        .append_message(SESSION, "patient", &Phi::new(MARKER.into()), Utc::now())
        .await
        .unwrap();
    let needles = ["ZQX-MARKER", "Jane Roe", "1984-03-02", "SESSIONID-4417"];
    match store.backend() {
        Backend::Sqlite => {
            store.pool().close().await;
            let mut checked = 0;
            for entry in std::fs::read_dir(db.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("carechat.db")
                {
                    // The -wal and -shm files may vanish between listing
                    // and reading (closing the pool checkpoints them).
                    let bytes = match std::fs::read(&path) {
                        Ok(bytes) => bytes,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => panic!("{}: {e}", path.display()),
                    };
                    checked += bytes.len();
                    for needle in needles {
                        assert!(
                            !contains(&bytes, needle.as_bytes()),
                            "{needle:?} found in {}",
                            path.display()
                        );
                    }
                }
            }
            assert!(checked > 0, "no database file was read");
        }
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT session || '|' || role || '|' || at || '|' || body FROM transcript",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            assert_eq!(rows.len(), 1);
            for row in rows {
                let text: String = row.get(0);
                for needle in needles {
                    assert!(!text.contains(needle), "{needle:?} found in {text}");
                }
            }
        }
    }
    // And it is all still there, readable with the key.
    let store = Store::open(&config).await.unwrap();
    let read = store.transcript(SESSION).await.unwrap();
    assert_eq!(read[0].text.expose(), MARKER);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn rotation_rewraps_keys_old_and_new_data_read_with_the_new_key_only(db: Db) {
    let config = db.config();
    let store = Store::open(&config).await.unwrap();
    let key_path = db.dir.path().join(MASTER_KEY_FILE);
    let old_key_text = std::fs::read_to_string(&key_path).unwrap();
    let ctx = aad("notes", "body", &["n1"]);
    let old_sealed = store.seal(&ctx, b"before rotation").unwrap();
    store
        .append_message("s", "patient", &Phi::new("old message".into()), Utc::now())
        .await
        .unwrap();
    drop(store);

    let rotation = rotate::rotate(&config, None).await.unwrap();
    assert_eq!(rotation.data_key_id, 2);
    assert!(!rotation.update_env);
    let previous = rotation.previous_key_file.unwrap();
    assert_eq!(previous, db.dir.path().join("master.key.previous"));
    assert_eq!(std::fs::read_to_string(&previous).unwrap(), old_key_text);
    assert_ne!(std::fs::read_to_string(&key_path).unwrap(), old_key_text);
    assert!(!db.dir.path().join("master.key.next").exists());
    #[cfg(unix)]
    for path in [&key_path, &previous] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }

    // The new key (now in the key file) reads old and new data.
    let store = Store::open(&config).await.unwrap();
    assert_eq!(
        store.unseal(&ctx, &old_sealed).unwrap().as_slice(),
        b"before rotation"
    );
    let new_sealed = store.seal(&ctx, b"after rotation").unwrap();
    assert_eq!(new_sealed.key_id(), Some(2));
    store
        .append_message("s", "patient", &Phi::new("new message".into()), Utc::now())
        .await
        .unwrap();
    let texts: Vec<String> = store
        .transcript("s")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text.into_inner())
        .collect();
    assert_eq!(texts, ["old message", "new message"]);
    // Every stored key is wrapped under the new key.
    let fingerprints: Vec<String> = sqlx::query("SELECT DISTINCT master_fp FROM data_keys")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let new_key = carechat::store::config::read_key_file(&key_path).unwrap();
    assert_eq!(fingerprints, [new_key.fingerprint()]);

    // The old key opens nothing any more.
    let old_key = MasterKey::from_base64(&old_key_text).unwrap();
    let err = Store::open(&config_with_env_key(&db, &old_key))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongMasterKey { .. }), "{err}");

    // A wrapped key altered in the database is reported as such.
    sqlx::query("UPDATE data_keys SET wrapped = 'A' || substr(wrapped, 2) WHERE id = 1 AND substr(wrapped, 1, 1) <> 'A'")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE data_keys SET wrapped = 'B' || substr(wrapped, 2) WHERE id = 1 AND substr(wrapped, 1, 1) = 'A'")
        .execute(store.pool())
        .await
        .unwrap();
    let err = Store::open(&config).await.unwrap_err();
    assert!(matches!(err, StoreError::KeyUnwrap(1)), "{err}");

    // A second rotation waits until the previous key was dealt with.
    let err = rotate::rotate(&config, None).await.unwrap_err();
    assert!(err.to_string().contains("master.key.previous"), "{err}");
}

async fn rotation_with_an_environment_key_needs_a_new_key_file(db: Db) {
    let old = MasterKey::generate();
    let config = config_with_env_key(&db, &old);
    let store = Store::open(&config).await.unwrap();
    let ctx = aad("notes", "body", &["n1"]);
    let sealed = store.seal(&ctx, b"kept").unwrap();
    drop(store);
    let err = rotate::rotate(&config, None).await.unwrap_err();
    assert!(err.to_string().contains("--new-master-key-file"), "{err}");

    let new = MasterKey::generate();
    let new_file = db.dir.path().join("new.key");
    carechat::store::config::write_key_file(&new_file, &new, false).unwrap();
    let rotation = rotate::rotate(&config, Some(&new_file)).await.unwrap();
    assert!(rotation.update_env);
    assert!(matches!(
        Store::open(&config).await.unwrap_err(),
        StoreError::WrongMasterKey { .. }
    ));
    let store = Store::open(&config_with_env_key(&db, &new)).await.unwrap();
    assert_eq!(store.unseal(&ctx, &sealed).unwrap().as_slice(), b"kept");
}

async fn blind_index_is_keyed_per_domain_and_survives_rotation(db: Db) {
    let config = db.config();
    let store = Store::open(&config).await.unwrap();
    let a = store.blind_index("patient.lookup", b"roe|1984-03-02");
    assert_eq!(a, store.blind_index("patient.lookup", b"roe|1984-03-02"));
    assert_ne!(a, store.blind_index("otp.code", b"roe|1984-03-02"));
    assert_ne!(a, store.blind_index("patient.lookup", b"roe|1984-03-03"));
    assert_eq!(a.len(), 43, "base64url of 32 bytes");
    assert!(!a.contains("roe"));
    drop(store);
    rotate::rotate(&config, None).await.unwrap();
    let store = Store::open(&config).await.unwrap();
    assert_eq!(a, store.blind_index("patient.lookup", b"roe|1984-03-02"));
    // Another database has another index key.
    let elsewhere = Db::sqlite().await;
    let other = Store::open(&elsewhere.config()).await.unwrap();
    assert_ne!(a, other.blind_index("patient.lookup", b"roe|1984-03-02"));
}

async fn migrations_run_once_and_concurrent_first_opens_agree(db: Db) {
    let key = MasterKey::generate();
    let config = config_with_env_key(&db, &key);
    let (a, b, c) = tokio::join!(
        Store::open(&config),
        Store::open(&config),
        Store::open(&config)
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let ctx = aad("t", "c", &["r"]);
    let sealed = a.seal(&ctx, b"shared").unwrap();
    assert_eq!(b.unseal(&ctx, &sealed).unwrap().as_slice(), b"shared");
    assert_eq!(c.blind_index("d", b"v"), a.blind_index("d", b"v"));
    let versions: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(a.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i64> = carechat::store::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(versions, expected);
    drop((a, b, c));
    Store::open(&config).await.unwrap();
    let store = Store::open(&config).await.unwrap();
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM data_keys")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2, "one index key and one data key");
}

#[test]
fn a_missing_parent_directory_is_created_for_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    let config = RawStorage::default().validate(&nested, |_| None).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        Store::open(&config).await.unwrap();
    });
    assert!(Path::new(&nested.join("carechat.db")).exists());
}

async fn cli_keys_rotate_replaces_the_key_file_and_keeps_the_old_one_aside(db: Db) {
    let config = db.config();
    let store = Store::open(&config).await.unwrap();
    let ctx = aad("notes", "body", &["n1"]);
    let sealed = store.seal(&ctx, b"kept").unwrap();
    drop(store);
    let old = std::fs::read_to_string(db.dir.path().join(MASTER_KEY_FILE)).unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_carechat"))
        .args(["keys", "rotate"])
        .env_remove("CARECHAT_CONFIG")
        .env_remove(MASTER_KEY_ENV)
        .env("CARECHAT_DATA_DIR", db.dir.path())
        .env("CARECHAT_DATABASE_URL", &db.url)
        .env("CARECHAT_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("master.key.previous"), "{stdout}");
    assert!(stdout.contains("back it up"), "{stdout}");
    assert!(
        !stdout.contains(old.trim()),
        "the key itself is never printed"
    );
    let previous = db.dir.path().join("master.key.previous");
    assert_eq!(std::fs::read_to_string(previous).unwrap(), old);
    let store = Store::open(&config).await.unwrap();
    assert_eq!(store.unseal(&ctx, &sealed).unwrap().as_slice(), b"kept");
    assert_eq!(store.seal(&ctx, b"new").unwrap().key_id(), Some(2));
}
