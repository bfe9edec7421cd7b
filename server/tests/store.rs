//! Storage: envelope encryption, the encrypted transcript, migrations and
//! master-key rotation, each scenario on SQLite and on a real PostgreSQL
//! server started by the test binary (`pg`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;
mod common;

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
    a_read_only_database_is_not_writable,
    a_missing_master_key_file_is_not_replaced_once_the_database_has_keys,
    the_session_digest_is_keyed_so_proxy_logs_cannot_link_a_sid_to_its_rows,
    consent_is_recorded_in_the_database_not_a_plaintext_file,
    an_old_consent_file_is_imported_once,
);

async fn a_read_only_database_is_not_writable(db: Db) {
    let config = db.config();
    let store = Store::open(&config).await.unwrap();
    for table in ["data_keys", "audit_head"] {
        store.check_writable(table).await.unwrap();
    }
    let read_only = match store.backend() {
        Backend::Sqlite => RawStorage {
            url: Some(db.url.replace("mode=rwc", "mode=ro")),
            master_key_file: None,
        }
        .validate(db.dir.path(), |_| None)
        .unwrap(),
        Backend::Postgres => {
            // Every new connection to this database is read-only, as on a
            // replica or for a role set so.
            let name = db.url.rsplit('/').next().unwrap();
            sqlx::query(&format!(
                "ALTER DATABASE \"{name}\" SET default_transaction_read_only = on"
            ))
            .execute(store.pool())
            .await
            .unwrap();
            config.clone()
        }
    };
    store.pool().close().await;
    let refused = match Store::open(&read_only).await {
        Ok(store) => store.check_writable("data_keys").await.unwrap_err(),
        Err(e) => e,
    };
    assert!(
        matches!(refused, StoreError::NotWritable { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("read-only"), "{refused}");
}

async fn a_missing_master_key_file_is_not_replaced_once_the_database_has_keys(db: Db) {
    let config = db.config();
    let fingerprint = config.load_master_key().unwrap().fingerprint();
    Store::open(&config).await.unwrap().pool().close().await;
    let key = db.dir.path().join(MASTER_KEY_FILE);
    std::fs::remove_file(&key).unwrap();
    let err = Store::open(&config).await.unwrap_err();
    assert!(
        matches!(err, StoreError::MissingMasterKey { ref path, fingerprint: ref fp } if path == &key && fp == &fingerprint),
        "{err}"
    );
    assert!(!key.exists(), "no key was generated");
}

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
    // (One statement: "to A unless A" then "A to B" would put back a key
    // that began with B.)
    sqlx::query("UPDATE data_keys SET wrapped = CASE WHEN substr(wrapped, 1, 1) = 'A' THEN 'B' ELSE 'A' END || substr(wrapped, 2) WHERE id = 1")
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
    assert_eq!(
        count, 4,
        "one index key, one data key, the audit signing key and the session-name key"
    );
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

/// What anyone holding proxy logs (which show session ids) could compute
/// for a sid: the unkeyed digests earlier versions stored.
fn unkeyed_digests(sid: &protocol::SessionId) -> Vec<String> {
    use sha2::Digest as _;
    let b64u = sid.to_b64u();
    let hex = |d: &[u8]| protocol::encoding::hex_lower(d);
    let plain = sha2::Sha256::digest(b64u.as_bytes());
    let audit = sha2::Sha256::new()
        .chain_update(b"carechat audit session v1\0")
        .chain_update(b64u.as_bytes())
        .finalize();
    let consent = sha2::Sha256::digest([b"carechat consent ".as_slice(), &sid.0].concat());
    vec![
        hex(&plain),
        hex(&plain[..16]),
        hex(&audit[..16]),
        hex(&consent[..16]),
    ]
}

async fn the_session_digest_is_keyed_so_proxy_logs_cannot_link_a_sid_to_its_rows(db: Db) {
    let config = db.config();
    let sid = protocol::SessionId::random(&mut rand_core::OsRng);
    let store = Store::open(&config).await.unwrap();
    let name = store.session_names().of(&sid);
    assert_eq!(name.len(), 32, "hex of 16 bytes, as before: {name}");
    assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
    // Not SHA-256 of the sid, in any form an earlier version used.
    for unkeyed in unkeyed_digests(&sid) {
        assert_ne!(name, unkeyed);
    }
    assert_ne!(name, store.session_names().name("another sid"));
    // The key is in data_keys, wrapped by the master key: its bytes are
    // not there in the clear.
    let rows = sqlx::query("SELECT kind, active FROM data_keys WHERE id = -2")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>(0), "session-digest");
    assert_eq!(rows[0].get::<i64, _>(1), 0, "never the active data key");
    // Another database, another key, another name for the same sid.
    let elsewhere = Db::sqlite().await;
    let other = Store::open(&elsewhere.config()).await.unwrap();
    assert_ne!(name, other.session_names().of(&sid));
    drop(store);

    // Stable across reopening and across `keys rotate`.
    let store = Store::open(&config).await.unwrap();
    assert_eq!(name, store.session_names().of(&sid));
    drop(store);
    rotate::rotate(&config, None).await.unwrap();
    let store = Store::open(&config).await.unwrap();
    assert_eq!(name, store.session_names().of(&sid));
    let fingerprint: String = sqlx::query("SELECT master_fp FROM data_keys WHERE id = -2")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    let new_key =
        carechat::store::config::read_key_file(&db.dir.path().join(MASTER_KEY_FILE)).unwrap();
    assert_eq!(fingerprint, new_key.fingerprint(), "re-wrapped by rotation");
    // The old master key opens nothing, so it cannot recover the name key.
    let old_key = MasterKey::from_base64(
        &std::fs::read_to_string(db.dir.path().join("master.key.previous")).unwrap(),
    )
    .unwrap();
    assert!(Store::open(&config_with_env_key(&db, &old_key))
        .await
        .is_err());

    // The process's name for a session (audit rows, transcript, staff
    // queue) is keyed too.
    let process = carechat::sessions::session_ref(&sid);
    assert_eq!(process, carechat::audit::session_digest(&sid.to_b64u()));
    for unkeyed in unkeyed_digests(&sid) {
        assert_ne!(process, unkeyed);
    }
}

/// A pool of the test's own on `db`.
async fn pool_of(db: &Db) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

async fn consent_is_recorded_in_the_database_not_a_plaintext_file(db: Db) {
    let url = db.url.clone();
    let server = common::TestServer::start_with(move |k| {
        (k == "CARECHAT_DATABASE_URL").then(|| url.clone())
    })
    .await;
    let (session, _conn) = common::consented(&server).await;
    let sid = session.sid();
    assert!(
        !server.data_dir.path().join("consent.jsonl").exists(),
        "no plaintext ledger beside the database"
    );
    let pool = pool_of(&db).await;
    let rows = sqlx::query("SELECT session, policy_version, accepted, at FROM consents")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let name: String = rows[0].get(0);
    assert_eq!(rows[0].get::<String, _>(1), "2026-01");
    assert_eq!(rows[0].get::<i64, _>(2), 1);
    assert!(rows[0].get::<i64, _>(3) > 0);
    // The session's one keyed name: not recomputable from the sid...
    assert_eq!(name, carechat::sessions::session_ref(&sid));
    assert!(!name.contains(&sid.to_b64u()));
    for unkeyed in unkeyed_digests(&sid) {
        assert_ne!(name, unkeyed);
    }
    // ...yet the consent joins its audit rows for whoever holds the key.
    let joined: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_events a JOIN consents c ON a.session = c.session WHERE a.action = 'consent.accepted'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .get(0);
    assert_eq!(joined, 1);

    // A consent the database does not take does not count.
    if db.url.starts_with("postgres") {
        sqlx::query("CREATE FUNCTION consents_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("CREATE TRIGGER consents_full BEFORE INSERT ON consents FOR EACH ROW EXECUTE FUNCTION consents_full()")
            .execute(&pool)
            .await
            .unwrap();
    } else {
        sqlx::query("CREATE TRIGGER consents_full BEFORE INSERT ON consents BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
            .execute(&pool)
            .await
            .unwrap();
    }
    let mut other = server.handshake().await;
    let mut conn = server.connect(&mut other).await;
    conn.sync(&mut other).await;
    let protocol::ServerMessage::Welcome { policy_version, .. } = conn.recv(&mut other).await
    else {
        panic!("expected welcome");
    };
    conn.send(
        &mut other,
        &protocol::ClientMessage::Consent {
            accepted: true,
            policy_version,
        },
    )
    .await;
    let reply = conn.recv(&mut other).await;
    assert!(
        matches!(&reply, protocol::ServerMessage::Error { code, .. } if code == "consent_not_recorded"),
        "{reply:?}"
    );
    assert!(!server.data_dir.path().join("consent.jsonl").exists());
}

/// The server's state on `db` with `data_dir`, as `carechat serve` opens it.
async fn open_app(db: &Db, data_dir: &Path) -> carechat::AppState {
    let url = db.url.clone();
    let mut raw = carechat::config::RawConfig::demo().unwrap();
    raw.apply_env(move |k| (k == "CARECHAT_DATABASE_URL").then(|| url.clone()))
        .unwrap();
    raw.apply_overrides(carechat::config::Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.to_owned()),
        assets_dir: Some(data_dir.to_owned()),
        ..Default::default()
    });
    let config = raw.validate().unwrap();
    let identity = carechat::open_identity(&config).unwrap();
    carechat::AppState::open(config, identity).await.unwrap()
}

async fn an_old_consent_file_is_imported_once(db: Db) {
    let data_dir = tempfile::tempdir().unwrap();
    let file = data_dir.path().join(carechat::consent::LEGACY_FILE);
    let imported = data_dir.path().join(carechat::consent::IMPORTED_FILE);
    // Two lines as earlier versions wrote them (the session an unkeyed
    // digest), and a last line torn by a crash.
    let old = [
        ("00112233445566778899aabbccddeeff", "2025-06"),
        ("ffeeddccbbaa99887766554433221100", "2026-01"),
    ];
    let mut text = String::new();
    for (session, version) in old {
        text.push_str(&format!(
            "{{\"time\":\"2026-01-05T10:00:00Z\",\"session\":\"{session}\",\"policy_version\":\"{version}\",\"accepted\":true}}\n"
        ));
    }
    text.push_str("{\"time\":\"2026-01-05T10:");
    std::fs::write(&file, &text).unwrap();

    let app = open_app(&db, data_dir.path()).await;
    assert!(
        !file.exists(),
        "the plaintext ledger is gone from its place"
    );
    assert_eq!(std::fs::read_to_string(&imported).unwrap(), text);
    for (session, version) in old {
        let rows = app.store.consents_of(session).await.unwrap();
        assert_eq!(rows.len(), 1, "{session}");
        assert_eq!(rows[0].policy_version, version);
        assert!(rows[0].accepted);
        assert_eq!(rows[0].at.to_rfc3339(), "2026-01-05T10:00:00+00:00");
    }
    let count = |pool: sqlx::AnyPool| async move {
        sqlx::query("SELECT COUNT(*) FROM consents")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get::<i64, _>(0)
    };
    assert_eq!(count(app.store.pool().clone()).await, 2);
    drop(app);

    // The next start imports nothing (the file was moved)...
    let app = open_app(&db, data_dir.path()).await;
    assert_eq!(count(app.store.pool().clone()).await, 2);
    assert!(!file.exists());
    // ...and a crash before the rename last time (the file still there)
    // imports the same lines again, adding no row.
    std::fs::rename(&imported, &file).unwrap();
    let again = carechat::consent::ConsentLedger::new(app.store.clone())
        .import_file(data_dir.path())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.records, again.added, again.skipped), (2, 0, 1));
    assert_eq!(count(app.store.pool().clone()).await, 2);
    assert!(!file.exists() && imported.exists());
}
