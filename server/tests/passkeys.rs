//! Staff passkeys (WebAuthn) under attack and in daily use, against a
//! software authenticator written here from the specification (P-256 keys,
//! `none` attestation, CBOR by hand), so nothing in the check is the
//! library checking itself. On SQLite and on a real PostgreSQL server:
//! a registration and a user-verified sign-in work; a challenge answers
//! once; a ceremony is bound to its session or its username and expires;
//! another account's credential, another origin, another RP ID and an
//! unverified user are refused with the password sign-in's one answer;
//! failures lock the name (shared with passwords) and throttle the address;
//! every step is audited. Through the console backend: registration needs
//! a session, this server's origin and the CSRF token; an IP-address
//! public URL has no passkeys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;

use std::net::IpAddr;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use carechat::audit::AuditLog;
use carechat::clock::{Clock as _, ManualClock};
use carechat::staff::passkey::{RelyingParty, CEREMONY_TTL};
use carechat::staff::{NewAccount, Role, SessionPolicy, SignInError, SignedIn, Staff};
use carechat::store::Store;
use carechat_console::api::passkey::PasskeyBackend;
use carechat_console::api::{ConsoleBackend, Refusal, RequestFacts};
use chrono::{Duration, TimeZone as _, Utc};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use protocol::IdentityKey;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use backends::Db;

on_both_backends!(
    a_passkey_registers_and_signs_in_with_both_factors,
    a_challenge_answers_once_and_expires,
    a_ceremony_is_bound_to_its_session_and_its_username,
    another_accounts_credential_is_refused,
    wrong_origin_rp_or_no_user_verification_is_refused,
    passkey_failures_lock_the_name_shared_with_passwords,
    abandoned_and_failed_passkey_sign_ins_throttle_the_address,
    a_name_without_passkeys_looks_like_one_with,
    every_step_is_audited_without_secrets,
);

const PASSWORD: &str = "correct horse battery staple";
const ORIGIN: &str = "https://chat.clinic.example";
const RP_ID: &str = "chat.clinic.example";

// --- a software authenticator and client ------------------------------------

/// How the (pretend) browser and authenticator answer.
#[derive(Clone)]
struct Client {
    origin: String,
    rp_id: String,
    user_verified: bool,
}

impl Client {
    fn honest() -> Self {
        Self {
            origin: ORIGIN.into(),
            rp_id: RP_ID.into(),
            user_verified: true,
        }
    }
}

/// One credential on a software authenticator.
struct SoftKey {
    key: SigningKey,
    id: Vec<u8>,
    user_handle: Option<String>,
    counter: u32,
}

fn cbor_head(out: &mut Vec<u8>, major: u8, len: usize) {
    let major = major << 5;
    if len < 24 {
        out.push(major | u8::try_from(len).unwrap());
    } else if len < 256 {
        out.push(major | 24);
        out.push(u8::try_from(len).unwrap());
    } else {
        out.push(major | 25);
        out.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len());
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len());
    out.extend_from_slice(text.as_bytes());
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl SoftKey {
    fn new() -> Self {
        let mut id = vec![0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
        Self {
            key: SigningKey::random(&mut rand_core::OsRng),
            id,
            user_handle: None,
            counter: 0,
        }
    }

    fn client_data(kind: &str, challenge: &str, client: &Client) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": client.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    fn flags(client: &Client) -> u8 {
        UP | if client.user_verified { UV } else { 0 }
    }

    /// `navigator.credentials.create` with the server's options.
    fn create(&mut self, options: &str, client: &Client) -> String {
        let options: Value = serde_json::from_str(options).unwrap();
        let pk = &options["publicKey"];
        assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
        self.user_handle = pk["user"]["id"].as_str().map(str::to_owned);
        let challenge = pk["challenge"].as_str().unwrap();
        let client_data = Self::client_data("webauthn.create", challenge, client);

        let point = self.key.verifying_key().to_encoded_point(false);
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut cose, point.x().unwrap());
        cose.push(0x22);
        cbor_bytes(&mut cose, point.y().unwrap());

        self.counter += 1;
        let mut auth_data = Sha256::digest(client.rp_id.as_bytes()).to_vec();
        auth_data.push(Self::flags(client) | AT);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&u16::try_from(self.id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&self.id);
        auth_data.extend_from_slice(&cose);

        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);

        json!({
            "id": B64U.encode(&self.id),
            "rawId": B64U.encode(&self.id),
            "type": "public-key",
            "response": {
                "attestationObject": B64U.encode(&attestation),
                "clientDataJSON": B64U.encode(&client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        })
        .to_string()
    }

    /// `navigator.credentials.get` with the server's options (answering
    /// even when the options do not name this credential, as a forger
    /// would).
    fn get(&mut self, options: &str, client: &Client) -> String {
        let options: Value = serde_json::from_str(options).unwrap();
        let pk = &options["publicKey"];
        assert_eq!(pk["userVerification"], "required");
        let challenge = pk["challenge"].as_str().unwrap();
        let client_data = Self::client_data("webauthn.get", challenge, client);
        self.counter += 1;
        let mut auth_data = Sha256::digest(client.rp_id.as_bytes()).to_vec();
        auth_data.push(Self::flags(client));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": B64U.encode(&self.id),
            "rawId": B64U.encode(&self.id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64U.encode(&auth_data),
                "clientDataJSON": B64U.encode(&client_data),
                "signature": B64U.encode(signature.to_der().as_bytes()),
                "userHandle": self.user_handle,
            },
            "extensions": {},
        })
        .to_string()
    }
}

// --- the fixture ------------------------------------------------------------

struct Fixture {
    staff: Staff,
    rp: RelyingParty,
    clock: ManualClock,
    store: Store,
    _db: Db,
}

async fn fixture(db: Db) -> Fixture {
    let store = Store::open(&db.config()).await.unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 15).unwrap());
    let identity = Arc::new(IdentityKey::generate(&mut rand_core::OsRng));
    let audit = AuditLog::new(store.clone(), identity).with_clock(Arc::new(clock.clone()));
    let staff = Staff::new(
        store.clone(),
        Arc::new(clock.clone()),
        audit,
        SessionPolicy::default(),
    );
    Fixture {
        staff,
        rp: RelyingParty::for_public_url(ORIGIN, "Clinic").unwrap(),
        clock,
        store,
        _db: db,
    }
}

fn addr(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

impl Fixture {
    async fn account(&self, username: &str) -> NewAccount {
        self.staff
            .add(username, "Ann Lee", Role::Nurse, PASSWORD)
            .await
            .unwrap()
    }

    async fn password_sign_in(&self, account: &NewAccount) -> SignedIn {
        // Each TOTP step works once: move on a step for every sign-in.
        self.clock.advance(Duration::seconds(30));
        let code = Staff::totp_now(&account.totp_secret_base32, self.clock.now()).unwrap();
        self.staff
            .sign_in(&account.member.username, PASSWORD, &code, addr("192.0.2.1"))
            .await
            .unwrap()
    }

    /// Signs `account` in with its password and registers `key` for it.
    async fn register(&self, account: &NewAccount, key: &mut SoftKey) -> SignedIn {
        let signed = self.password_sign_in(account).await;
        let challenge = self
            .staff
            .start_passkey_registration(&self.rp, &signed.token, &signed.member)
            .await
            .unwrap();
        let options: Value = serde_json::from_str(&challenge.options).unwrap();
        assert_eq!(
            options["publicKey"]["rp"]["id"], RP_ID,
            "the public URL's host"
        );
        let answer = key.create(&challenge.options, &Client::honest());
        self.staff
            .finish_passkey_registration(
                &self.rp,
                &signed.token,
                &signed.member,
                &challenge.ceremony,
                "Work laptop",
                &answer,
                addr("192.0.2.1"),
            )
            .await
            .unwrap();
        signed
    }

    /// A whole passkey sign-in attempt for `username` with `key`.
    async fn passkey_sign_in(
        &self,
        username: &str,
        key: &mut SoftKey,
        client: &Client,
        from: Option<IpAddr>,
    ) -> Result<SignedIn, SignInError> {
        let challenge = self
            .staff
            .start_passkey_sign_in(&self.rp, username, from)
            .await?;
        let answer = key.get(&challenge.options, client);
        self.staff
            .finish_passkey_sign_in(&self.rp, &challenge.ceremony, &answer, from)
            .await
    }

    async fn audit_rows(&self) -> Vec<Vec<String>> {
        let rows = sqlx::query(
            "SELECT actor, action, outcome, COALESCE(entity_type, ''), COALESCE(entity_id, ''), \
             COALESCE(client_addr, ''), COALESCE(session, '') FROM audit_events ORDER BY seq",
        )
        .fetch_all(self.store.pool())
        .await
        .unwrap();
        rows.iter()
            .map(|r| (0..7).map(|i| r.get::<String, _>(i)).collect())
            .collect()
    }
}

// --- the scenarios ------------------------------------------------------------

async fn a_passkey_registers_and_signs_in_with_both_factors(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let mut key = SoftKey::new();
    f.register(&ann, &mut key).await;

    let list = f.staff.passkeys(ann.member.id).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "Work laptop");
    assert_eq!(list[0].id, B64U.encode(&key.id));
    assert_eq!(list[0].last_used, None);

    let signed = f
        .passkey_sign_in("Ann", &mut key, &Client::honest(), addr("192.0.2.1"))
        .await
        .unwrap();
    assert_eq!(signed.member.id, ann.member.id);
    // A real session, as a password sign-in gives.
    let session = f.staff.session(&signed.token).await.unwrap();
    assert_eq!(session.member.id, ann.member.id);
    let list = f.staff.passkeys(ann.member.id).await.unwrap();
    assert_eq!(list[0].last_used, Some(f.clock.now()));

    // Again, with a higher counter: still fine.
    f.passkey_sign_in("ann", &mut key, &Client::honest(), addr("192.0.2.1"))
        .await
        .unwrap();

    // A cloned authenticator (the counter going backwards) is refused.
    key.counter = 0;
    assert_eq!(
        f.passkey_sign_in("ann", &mut key, &Client::honest(), addr("192.0.2.1"))
            .await
            .err(),
        Some(SignInError::Refused)
    );

    // Removed, it no longer signs in; removing it twice says not found.
    let id = B64U.encode(&key.id);
    let other = f.account("bo").await;
    assert!(f
        .staff
        .remove_passkey(other.member.id, &id, &signed.token, None)
        .await
        .is_err());
    f.staff
        .remove_passkey(ann.member.id, &id, &signed.token, None)
        .await
        .unwrap();
    assert!(f
        .staff
        .remove_passkey(ann.member.id, &id, &signed.token, None)
        .await
        .is_err());
    key.counter = 100;
    assert_eq!(
        f.passkey_sign_in("ann", &mut key, &Client::honest(), addr("192.0.2.1"))
            .await
            .err(),
        Some(SignInError::Refused)
    );
}

async fn a_challenge_answers_once_and_expires(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let mut key = SoftKey::new();
    let signed = f.register(&ann, &mut key).await;

    // Sign-in: the same answer twice.
    let challenge = f
        .staff
        .start_passkey_sign_in(&f.rp, "ann", None)
        .await
        .unwrap();
    let answer = key.get(&challenge.options, &Client::honest());
    f.staff
        .finish_passkey_sign_in(&f.rp, &challenge.ceremony, &answer, None)
        .await
        .unwrap();
    assert_eq!(
        f.staff
            .finish_passkey_sign_in(&f.rp, &challenge.ceremony, &answer, None)
            .await
            .err(),
        Some(SignInError::Refused),
        "a replayed answer"
    );

    // An answer to one challenge presented with another ceremony.
    let first = f
        .staff
        .start_passkey_sign_in(&f.rp, "ann", None)
        .await
        .unwrap();
    let second = f
        .staff
        .start_passkey_sign_in(&f.rp, "ann", None)
        .await
        .unwrap();
    let answer = key.get(&first.options, &Client::honest());
    assert_eq!(
        f.staff
            .finish_passkey_sign_in(&f.rp, &second.ceremony, &answer, None)
            .await
            .err(),
        Some(SignInError::Refused)
    );

    // Expired: five minutes is the limit.
    let late = f
        .staff
        .start_passkey_sign_in(&f.rp, "ann", None)
        .await
        .unwrap();
    let answer = key.get(&late.options, &Client::honest());
    f.clock.advance(CEREMONY_TTL + Duration::seconds(1));
    assert_eq!(
        f.staff
            .finish_passkey_sign_in(&f.rp, &late.ceremony, &answer, None)
            .await
            .err(),
        Some(SignInError::Refused)
    );

    // Registration: the same answer twice, and an expired one.
    let signed = f.staff.session(&signed.token).await.map(|_| signed);
    let signed = match signed {
        Ok(s) => s,
        Err(_) => f.password_sign_in(&ann).await,
    };
    let mut second_key = SoftKey::new();
    let challenge = f
        .staff
        .start_passkey_registration(&f.rp, &signed.token, &signed.member)
        .await
        .unwrap();
    let answer = second_key.create(&challenge.options, &Client::honest());
    f.staff
        .finish_passkey_registration(
            &f.rp,
            &signed.token,
            &signed.member,
            &challenge.ceremony,
            "",
            &answer,
            None,
        )
        .await
        .unwrap();
    let mut third_key = SoftKey::new();
    let answer_again = third_key.create(&challenge.options, &Client::honest());
    assert!(f
        .staff
        .finish_passkey_registration(
            &f.rp,
            &signed.token,
            &signed.member,
            &challenge.ceremony,
            "",
            &answer_again,
            None,
        )
        .await
        .is_err());
    let challenge = f
        .staff
        .start_passkey_registration(&f.rp, &signed.token, &signed.member)
        .await
        .unwrap();
    let answer = third_key.create(&challenge.options, &Client::honest());
    f.clock.advance(CEREMONY_TTL);
    assert!(f
        .staff
        .finish_passkey_registration(
            &f.rp,
            &signed.token,
            &signed.member,
            &challenge.ceremony,
            "",
            &answer,
            None,
        )
        .await
        .is_err());
    let names: Vec<String> = f
        .staff
        .passkeys(ann.member.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Work laptop", "Passkey"]);
}

async fn a_ceremony_is_bound_to_its_session_and_its_username(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let bo = f.account("bo").await;
    let mut ann_key = SoftKey::new();
    let mut bo_key = SoftKey::new();
    f.register(&ann, &mut ann_key).await;
    f.register(&bo, &mut bo_key).await;

    // A registration started in Ann's session, finished in Bo's (or in
    // another session of Ann's), is refused.
    let ann_session = f.password_sign_in(&ann).await;
    let bo_session = f.password_sign_in(&bo).await;
    let ann_other = f.password_sign_in(&ann).await;
    for (token, member) in [
        (&bo_session.token, &bo_session.member),
        (&ann_other.token, &ann_other.member),
        (&ann_session.token, &bo_session.member),
    ] {
        let challenge = f
            .staff
            .start_passkey_registration(&f.rp, &ann_session.token, &ann_session.member)
            .await
            .unwrap();
        let mut key = SoftKey::new();
        let answer = key.create(&challenge.options, &Client::honest());
        assert!(f
            .staff
            .finish_passkey_registration(
                &f.rp,
                token,
                member,
                &challenge.ceremony,
                "x",
                &answer,
                None
            )
            .await
            .is_err());
    }
    assert_eq!(f.staff.passkeys(ann.member.id).await.unwrap().len(), 1);
    assert_eq!(f.staff.passkeys(bo.member.id).await.unwrap().len(), 1);

    // A sign-in ceremony is not a registration ceremony, nor the reverse.
    let sign_in = f
        .staff
        .start_passkey_sign_in(&f.rp, "ann", None)
        .await
        .unwrap();
    let mut key = SoftKey::new();
    let answer = key.create(
        &f.staff
            .start_passkey_registration(&f.rp, &ann_session.token, &ann_session.member)
            .await
            .unwrap()
            .options,
        &Client::honest(),
    );
    assert!(f
        .staff
        .finish_passkey_registration(
            &f.rp,
            &ann_session.token,
            &ann_session.member,
            &sign_in.ceremony,
            "x",
            &answer,
            None
        )
        .await
        .is_err());
}

async fn another_accounts_credential_is_refused(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let bo = f.account("bo").await;
    let mut ann_key = SoftKey::new();
    let mut bo_key = SoftKey::new();
    f.register(&ann, &mut ann_key).await;
    let bo_session = f.register(&bo, &mut bo_key).await;

    // Bo's name, Ann's passkey (a valid signature, the right challenge).
    ann_key.user_handle = bo_key.user_handle.clone();
    assert_eq!(
        f.passkey_sign_in("bo", &mut ann_key, &Client::honest(), None)
            .await
            .err(),
        Some(SignInError::Refused)
    );
    // A name with no account, Ann's passkey.
    assert_eq!(
        f.passkey_sign_in("nobody", &mut ann_key, &Client::honest(), None)
            .await
            .err(),
        Some(SignInError::Refused)
    );

    // Ann's credential registered again, for Bo: refused (one account each).
    let challenge = f
        .staff
        .start_passkey_registration(&f.rp, &bo_session.token, &bo_session.member)
        .await
        .unwrap();
    let answer = ann_key.create(&challenge.options, &Client::honest());
    assert!(f
        .staff
        .finish_passkey_registration(
            &f.rp,
            &bo_session.token,
            &bo_session.member,
            &challenge.ceremony,
            "stolen",
            &answer,
            None,
        )
        .await
        .is_err());
    assert_eq!(f.staff.passkeys(bo.member.id).await.unwrap().len(), 1);

    // A stored passkey moved to another account does not open there.
    sqlx::query("UPDATE staff_passkeys SET member_id = $1 WHERE member_id = $2")
        .bind(bo.member.id)
        .bind(ann.member.id)
        .execute(f.store.pool())
        .await
        .unwrap();
    assert!(f
        .staff
        .start_passkey_sign_in(&f.rp, "bo", None)
        .await
        .is_err());
}

async fn wrong_origin_rp_or_no_user_verification_is_refused(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let mut key = SoftKey::new();
    f.register(&ann, &mut key).await;
    let wrong = [
        Client {
            origin: "https://chat.clinic.example.evil.test".into(),
            ..Client::honest()
        },
        Client {
            origin: "http://chat.clinic.example".into(),
            ..Client::honest()
        },
        Client {
            rp_id: "evil.test".into(),
            ..Client::honest()
        },
        Client {
            user_verified: false,
            ..Client::honest()
        },
    ];
    for client in &wrong {
        assert_eq!(
            f.passkey_sign_in("ann", &mut key, client, None).await.err(),
            Some(SignInError::Refused)
        );
    }
    // The same at registration.
    let signed = f.password_sign_in(&ann).await;
    for client in &wrong {
        let challenge = f
            .staff
            .start_passkey_registration(&f.rp, &signed.token, &signed.member)
            .await
            .unwrap();
        let mut fresh = SoftKey::new();
        let answer = fresh.create(&challenge.options, client);
        assert!(f
            .staff
            .finish_passkey_registration(
                &f.rp,
                &signed.token,
                &signed.member,
                &challenge.ceremony,
                "x",
                &answer,
                None
            )
            .await
            .is_err());
    }
    // Garbage is refused the same way.
    let challenge = f
        .staff
        .start_passkey_sign_in(&f.rp, "ann", None)
        .await
        .unwrap();
    assert_eq!(
        f.staff
            .finish_passkey_sign_in(&f.rp, &challenge.ceremony, "{\"id\":1}", None)
            .await
            .err(),
        Some(SignInError::Refused)
    );
    assert_eq!(f.staff.passkeys(ann.member.id).await.unwrap().len(), 1);
    // And after all that, the right answer still works (the lock counts
    // five in a row; a success clears them).
    f.clock.advance(Duration::minutes(16));
    f.passkey_sign_in("ann", &mut key, &Client::honest(), None)
        .await
        .unwrap();
}

async fn passkey_failures_lock_the_name_shared_with_passwords(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let mut key = SoftKey::new();
    f.register(&ann, &mut key).await;
    let unverified = Client {
        user_verified: false,
        ..Client::honest()
    };
    for _ in 0..4 {
        assert_eq!(
            f.passkey_sign_in("ann", &mut key, &unverified, None)
                .await
                .err(),
            Some(SignInError::Refused)
        );
    }
    // The fifth failure in a row locks, and says so.
    assert_eq!(
        f.passkey_sign_in("ann", &mut key, &unverified, None)
            .await
            .err(),
        Some(SignInError::Locked)
    );
    // Locked for passkeys (before the authenticator is asked) and for the
    // password, right answers included.
    assert_eq!(
        f.staff
            .start_passkey_sign_in(&f.rp, "ann", None)
            .await
            .err(),
        Some(SignInError::Locked)
    );
    f.clock.advance(Duration::seconds(30));
    let code = Staff::totp_now(&ann.totp_secret_base32, f.clock.now()).unwrap();
    assert_eq!(
        f.staff.sign_in("ann", PASSWORD, &code, None).await.err(),
        Some(SignInError::Locked)
    );
    // Password failures count towards the passkey's lock too.
    f.clock.advance(Duration::minutes(16));
    for _ in 0..4 {
        assert_eq!(
            f.staff.sign_in("ann", "wrong", "000000", None).await.err(),
            Some(SignInError::Refused)
        );
    }
    assert_eq!(
        f.passkey_sign_in("ann", &mut key, &unverified, None)
            .await
            .err(),
        Some(SignInError::Locked)
    );
    // A name with no account locks the same way.
    for _ in 0..4 {
        assert_eq!(
            f.passkey_sign_in("nobody", &mut key, &Client::honest(), None)
                .await
                .err(),
            Some(SignInError::Refused)
        );
    }
    assert_eq!(
        f.passkey_sign_in("nobody", &mut key, &Client::honest(), None)
            .await
            .err(),
        Some(SignInError::Locked)
    );
    assert_eq!(
        f.staff
            .start_passkey_sign_in(&f.rp, "nobody", None)
            .await
            .err(),
        Some(SignInError::Locked)
    );
    // Once the lock has passed, the passkey works and clears the count.
    f.clock.advance(Duration::minutes(16));
    f.passkey_sign_in("ann", &mut key, &Client::honest(), None)
        .await
        .unwrap();
}

async fn abandoned_and_failed_passkey_sign_ins_throttle_the_address(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let mut key = SoftKey::new();
    f.register(&ann, &mut key).await;
    let from = addr("198.51.100.7");
    // Successful sign-ins give the address its attempt back.
    for _ in 0..25 {
        f.passkey_sign_in("ann", &mut key, &Client::honest(), from)
            .await
            .unwrap();
    }
    // Started and never finished: each counts (names vary, so no lock).
    for n in 0..15 {
        f.staff
            .start_passkey_sign_in(&f.rp, &format!("user{n}"), from)
            .await
            .unwrap();
    }
    // Finished with a ceremony that does not exist: counts too.
    for _ in 0..5 {
        assert_eq!(
            f.staff
                .finish_passkey_sign_in(&f.rp, "no-such-ceremony", "{}", from)
                .await
                .err(),
            Some(SignInError::Refused)
        );
    }
    assert_eq!(
        f.staff
            .start_passkey_sign_in(&f.rp, "ann", from)
            .await
            .err(),
        Some(SignInError::Throttled)
    );
    assert_eq!(
        f.staff
            .finish_passkey_sign_in(&f.rp, "no-such-ceremony", "{}", from)
            .await
            .err(),
        Some(SignInError::Throttled)
    );
    // The password sign-in shares the window.
    f.clock.advance(Duration::seconds(30));
    let code = Staff::totp_now(&ann.totp_secret_base32, f.clock.now()).unwrap();
    assert_eq!(
        f.staff.sign_in("ann", PASSWORD, &code, from).await.err(),
        Some(SignInError::Throttled)
    );
    // Another address is not affected; the window passes.
    f.passkey_sign_in("ann", &mut key, &Client::honest(), addr("198.51.100.8"))
        .await
        .unwrap();
    f.clock.advance(Duration::minutes(16));
    f.passkey_sign_in("ann", &mut key, &Client::honest(), from)
        .await
        .unwrap();
}

/// The keys of a JSON object, recursively, with array items merged: the
/// shape, without the values.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(shape).take(1).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

async fn a_name_without_passkeys_looks_like_one_with(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    // Bo has an account and no passkey; "nobody" has neither.
    f.account("bo").await;
    let mut key = SoftKey::new();
    f.register(&ann, &mut key).await;
    let real: Value = serde_json::from_str(
        &f.staff
            .start_passkey_sign_in(&f.rp, "ann", None)
            .await
            .unwrap()
            .options,
    )
    .unwrap();
    let mut without_transports = real.clone();
    if let Some(list) = without_transports["publicKey"]["allowCredentials"].as_array_mut() {
        for c in list {
            c.as_object_mut().unwrap().remove("transports");
        }
    }
    for name in ["bo", "nobody"] {
        let decoy = f
            .staff
            .start_passkey_sign_in(&f.rp, name, None)
            .await
            .unwrap();
        let decoy: Value = serde_json::from_str(&decoy.options).unwrap();
        assert_eq!(shape(&decoy), shape(&without_transports), "{name}");
        assert_eq!(decoy["publicKey"]["rpId"], real["publicKey"]["rpId"]);
        assert_eq!(decoy["publicKey"]["timeout"], real["publicKey"]["timeout"]);
        let id = decoy["publicKey"]["allowCredentials"][0]["id"].clone();
        let again: Value = serde_json::from_str(
            &f.staff
                .start_passkey_sign_in(&f.rp, name, None)
                .await
                .unwrap()
                .options,
        )
        .unwrap();
        assert_eq!(
            again["publicKey"]["allowCredentials"][0]["id"], id,
            "the decoy credential is the same each time"
        );
        assert_ne!(
            again["publicKey"]["challenge"],
            decoy["publicKey"]["challenge"]
        );
    }
    // A disabled account gets the decoy as well.
    sqlx::query("UPDATE staff_members SET disabled_at = 1 WHERE id = $1")
        .bind(ann.member.id)
        .execute(f.store.pool())
        .await
        .unwrap();
    let disabled: Value = serde_json::from_str(
        &f.staff
            .start_passkey_sign_in(&f.rp, "ann", None)
            .await
            .unwrap()
            .options,
    )
    .unwrap();
    assert_ne!(
        disabled["publicKey"]["allowCredentials"][0]["id"],
        json!(B64U.encode(&key.id))
    );
    assert_eq!(
        f.passkey_sign_in("ann", &mut key, &Client::honest(), None)
            .await
            .err(),
        Some(SignInError::Refused)
    );
}

async fn every_step_is_audited_without_secrets(db: Db) {
    let f = fixture(db).await;
    let ann = f.account("ann").await;
    let mut key = SoftKey::new();
    let signed = f.register(&ann, &mut key).await;
    let from = addr("192.0.2.1");
    let unverified = Client {
        user_verified: false,
        ..Client::honest()
    };
    let challenge = f
        .staff
        .start_passkey_sign_in(&f.rp, "ann", from)
        .await
        .unwrap();
    let answer = key.get(&challenge.options, &unverified);
    assert!(f
        .staff
        .finish_passkey_sign_in(&f.rp, &challenge.ceremony, &answer, from)
        .await
        .is_err());
    f.passkey_sign_in("ann", &mut key, &Client::honest(), from)
        .await
        .unwrap();
    let id = B64U.encode(&key.id);
    f.staff
        .remove_passkey(ann.member.id, &id, &signed.token, from)
        .await
        .unwrap();

    let rows = f.audit_rows().await;
    let actions: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|e| (e[0].as_str(), e[1].as_str(), e[2].as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("system", "staff.account_created", "success"),
            ("staff:1", "staff.sign_in", "success"),
            ("staff:1", "staff.passkey_added", "success"),
            ("staff:1", "staff.sign_in_failed", "failure"),
            ("staff:1", "staff.sign_in_passkey", "success"),
            ("staff:1", "staff.passkey_removed", "success"),
        ]
    );
    let added = &rows[2];
    assert_eq!(
        (added[3].as_str(), added[4].as_str()),
        ("StaffPasskey", id.as_str())
    );
    assert_eq!(added[5], "192.0.2.1");
    assert!(!added[6].is_empty(), "the session's digest");
    let signed_in = &rows[4];
    assert_eq!(
        (signed_in[3].as_str(), signed_in[4].as_str()),
        ("StaffMember", "1")
    );
    let everything = format!("{rows:?}");
    for secret in [
        signed.token.as_str(),
        challenge.ceremony.as_str(),
        "ann",
        PASSWORD,
    ] {
        assert!(!everything.contains(secret), "the audit log holds a secret");
    }
    let options: Value = serde_json::from_str(&challenge.options).unwrap();
    let sent_challenge = options["publicKey"]["challenge"].as_str().unwrap();
    assert!(!everything.contains(sent_challenge));
}

// --- through the console backend --------------------------------------------------

struct World {
    app: carechat::AppState,
    origin: String,
    _dir: tempfile::TempDir,
}

async fn world(public_url: &str) -> World {
    use carechat::config::{Overrides, RawConfig};
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::demo().unwrap();
    raw.apply_overrides(Overrides {
        data_dir: Some(dir.path().to_owned()),
        public_url: Some(public_url.to_owned()),
        ..Overrides::default()
    });
    let config = raw.validate().unwrap();
    let identity = carechat::open_identity(&config).unwrap();
    let app = carechat::AppState::open(config, identity).await.unwrap();
    let origin = app.config.public_url.clone();
    World {
        app,
        origin,
        _dir: dir,
    }
}

fn cookie_token(cookie: &str) -> String {
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

impl World {
    async fn signed_in(&self, username: &str) -> RequestFacts {
        let staff = Staff::new(
            self.app.store.clone(),
            Arc::new(carechat::clock::SystemClock),
            self.app.audit.clone(),
            SessionPolicy::default(),
        );
        let account = staff
            .add(username, "Sam Rivera", Role::Nurse, PASSWORD)
            .await
            .unwrap();
        let code = Staff::totp_now(&account.totp_secret_base32, Utc::now()).unwrap();
        let mut facts = self.anonymous();
        let (me, cookie) = self
            .app
            .console
            .sign_in(&facts, username, PASSWORD, &code)
            .await
            .unwrap();
        facts.session = Some(cookie_token(&cookie));
        facts.csrf = Some(me.csrf);
        facts
    }

    fn anonymous(&self) -> RequestFacts {
        RequestFacts {
            origin: Some(self.origin.clone()),
            ..RequestFacts::default()
        }
    }

    fn client(&self) -> Client {
        Client {
            origin: self.origin.clone(),
            rp_id: "localhost".into(),
            user_verified: true,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_registration_needs_a_session_this_origin_and_the_csrf_token() {
    let w = world("http://localhost:8080").await;
    let b = &w.app.console;
    let facts = w.signed_in("sam.rivera").await;

    assert_eq!(
        b.passkey_register_start(&w.anonymous()).await.err(),
        Some(Refusal::SignedOut)
    );
    let mut foreign = facts.clone();
    foreign.origin = Some("https://evil.example".into());
    assert_eq!(
        b.passkey_register_start(&foreign).await.err(),
        Some(Refusal::BadRequest)
    );
    let mut no_origin = facts.clone();
    no_origin.origin = None;
    assert_eq!(
        b.passkey_register_start(&no_origin).await.err(),
        Some(Refusal::BadRequest)
    );
    let mut wrong_csrf = facts.clone();
    wrong_csrf.csrf = Some("not-the-token".into());
    assert_eq!(
        b.passkey_register_start(&wrong_csrf).await.err(),
        Some(Refusal::BadRequest)
    );

    let challenge = b.passkey_register_start(&facts).await.unwrap();
    let mut key = SoftKey::new();
    let options: Value = serde_json::from_str(&challenge.options).unwrap();
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    let answer = key.create(&challenge.options, &w.client());
    // The finish is checked the same way, and a refused finish leaves the
    // ceremony for the real one.
    for bad in [&wrong_csrf, &foreign] {
        assert_eq!(
            b.passkey_register_finish(bad, &challenge.ceremony, "Laptop", &answer)
                .await
                .err(),
            Some(Refusal::BadRequest)
        );
    }
    assert_eq!(
        b.passkey_register_finish(&w.anonymous(), &challenge.ceremony, "Laptop", &answer)
            .await
            .err(),
        Some(Refusal::SignedOut)
    );
    let info = b
        .passkey_register_finish(&facts, &challenge.ceremony, "Laptop", &answer)
        .await
        .unwrap();
    assert_eq!(info.name, "Laptop");
    assert_eq!(b.passkeys(&facts).await.unwrap(), vec![info.clone()]);
    assert_eq!(
        b.passkeys(&w.anonymous()).await.err(),
        Some(Refusal::SignedOut)
    );

    // Sign-in through the console: this origin only; the cookie works.
    let mut foreign_anon = w.anonymous();
    foreign_anon.origin = Some("https://evil.example".into());
    assert_eq!(
        b.passkey_sign_in_start(&foreign_anon, "sam.rivera")
            .await
            .err(),
        Some(Refusal::BadRequest)
    );
    let start = b
        .passkey_sign_in_start(&w.anonymous(), "sam.rivera")
        .await
        .unwrap();
    let answer = key.get(&start.options, &w.client());
    assert_eq!(
        b.passkey_sign_in_finish(&foreign_anon, &start.ceremony, &answer)
            .await
            .err(),
        Some(Refusal::BadRequest)
    );
    let (me, cookie) = b
        .passkey_sign_in_finish(&w.anonymous(), &start.ceremony, &answer)
        .await
        .unwrap();
    assert_eq!(me.name, "Sam Rivera");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let mut session = w.anonymous();
    session.session = Some(cookie_token(&cookie));
    assert_eq!(b.me(&session).await.unwrap().name, "Sam Rivera");
    // Wrong answers get the password sign-in's refusal.
    let start = b
        .passkey_sign_in_start(&w.anonymous(), "sam.rivera")
        .await
        .unwrap();
    let answer = key.get(
        &start.options,
        &Client {
            user_verified: false,
            ..w.client()
        },
    );
    assert_eq!(
        b.passkey_sign_in_finish(&w.anonymous(), &start.ceremony, &answer)
            .await
            .err(),
        Some(Refusal::BadCredentials)
    );

    // Removal: CSRF checked; only one's own.
    assert_eq!(
        b.passkey_remove(&wrong_csrf, &info.id).await.err(),
        Some(Refusal::BadRequest)
    );
    let other = w.signed_in("ann.lee").await;
    assert_eq!(
        b.passkey_remove(&other, &info.id).await.err(),
        Some(Refusal::Gone)
    );
    b.passkey_remove(&facts, &info.id).await.unwrap();
    assert!(b.passkeys(&facts).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_address_public_url_has_no_passkeys() {
    let w = world("http://127.0.0.1:8080").await;
    let b = &w.app.console;
    let facts = w.signed_in("sam.rivera").await;
    assert_eq!(
        b.passkey_register_start(&facts).await.err(),
        Some(Refusal::Unavailable)
    );
    assert_eq!(
        b.passkey_sign_in_start(&w.anonymous(), "sam.rivera")
            .await
            .err(),
        Some(Refusal::Unavailable)
    );
}
