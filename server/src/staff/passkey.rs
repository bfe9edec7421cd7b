//! Staff passkeys (WebAuthn, with `webauthn-rs`): registering one while
//! signed in, listing and removing one's own, and signing in with one.
//! A passkey sign-in requires user verification (the authenticator's PIN
//! or biometric), so the passkey is both factors: something held and
//! something known or is.
//!
//! - The relying party ([`RelyingParty`]) is the server's public URL
//!   (`config.public_url`): its host is the RP ID, the URL the one origin
//!   accepted. WebAuthn accepts no IP address as an RP ID, so on a server
//!   whose public URL is one, passkeys are [`PasskeyError::Unavailable`].
//! - Ceremonies (a registration or a sign-in) are kept server-side, in
//!   `staff_passkey_ceremonies`: the browser holds only a random token
//!   naming one (stored as a blind index). Each is single use (taken with
//!   one `DELETE ... RETURNING`, right or wrong), expires after
//!   [`CEREMONY_TTL`], and is bound: a registration to the session that
//!   started it and its staff member, a sign-in to the username typed.
//!   The state (the challenge) is sealed, bound to the ceremony's row.
//! - Credentials are kept in `staff_passkeys`, sealed and bound to their
//!   account and credential id. A credential id belongs to one account
//!   only; a sign-in accepts only the passkeys of the account named.
//!
//! Sign-in is **username first, then passkey**, not a discoverable
//! credential ("usernameless"): the per-account lockout
//! ([`super::throttle`]) is kept per typed username, and so a failed
//! passkey counts against exactly the same lock as a wrong password,
//! locked accounts say so before the authenticator is touched, and
//! passkeys that are not resident keys (most security keys) work too.
//! For a name with no passkey (or no account) the options name a decoy
//! credential derived from the name, so the answer looks like a real
//! account's, and its finish fails the same way as a wrong passkey.
//!
//! The order of a sign-in's checks: start takes one attempt from the
//! address's window ([`super::throttle::reserve_address`]) and refuses a
//! locked name; finish takes the attempt from the name's failures in a row
//! ([`super::throttle::reserve_account`]), checks the assertion, and on
//! success clears the failures and gives the address its attempt back,
//! as a password sign-in does. A finish with an unknown or expired
//! ceremony takes an address attempt too.
//!
//! Every registration, removal and sign-in (failed or not) is audited;
//! no challenge, ceremony token or typed username ever is, nor logged.

use std::fmt;
use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use chrono::{DateTime, TimeZone as _, Utc};
use rand_core::{OsRng, RngCore as _};
use sqlx::Row as _;
use subtle::ConstantTimeEq as _;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::sessions::{random_token, token_hash};
use super::{throttle, Role, SignInError, SignedIn, Staff, StaffMember, StoreFailure};
use crate::audit::{Actor, AuditAction, AuditEvent, AuditOutcome};
use crate::store::{aad, Sealed};

/// How long a ceremony may take, from start to finish (the browser is
/// given the same timeout).
pub const CEREMONY_TTL: chrono::Duration = chrono::Duration::minutes(5);
/// The most passkeys one account may have.
pub const MAX_PASSKEYS_PER_MEMBER: usize = 10;
/// The longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 60;
/// The largest credential (JSON text) accepted from a browser.
pub const MAX_CREDENTIAL_JSON: usize = 16 * 1024;
/// Ceremony tokens are 43 characters; anything much longer is not one.
const MAX_CEREMONY_TOKEN_LEN: usize = 64;
/// The name a passkey gets when its owner gives none.
const DEFAULT_NAME: &str = "Passkey";

const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";

/// The relying party: who the passkeys are for (the server's public URL).
pub struct RelyingParty {
    webauthn: Webauthn,
    rp_id: String,
}

impl fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// The relying party for a public URL (`https://chat.clinic.example`)
    /// named `name` (the clinic, shown by some authenticators).
    ///
    /// # Errors
    /// [`PasskeyError::Unavailable`] when the URL's host is not a domain
    /// name (an IP address), or the URL does not parse.
    pub fn for_public_url(public_url: &str, name: &str) -> Result<Self, PasskeyError> {
        let origin = Url::parse(public_url).map_err(|_| PasskeyError::Unavailable)?;
        let rp_id = origin.domain().ok_or(PasskeyError::Unavailable)?.to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name(name).timeout(ttl_std()).build())
            .map_err(|e| {
                tracing::warn!(error = %e, "passkeys are not available for this public URL");
                PasskeyError::Unavailable
            })?;
        Ok(Self { webauthn, rp_id })
    }

    /// The RP ID: the public URL's host.
    #[must_use]
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }
}

fn ttl_std() -> std::time::Duration {
    CEREMONY_TTL
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(300))
}

/// The first half of a ceremony, for the browser.
pub struct Challenge {
    /// The token naming the ceremony (32 random bytes, base64url).
    pub ceremony: String,
    /// `{"publicKey": {...}}` for `navigator.credentials.create` / `.get`.
    pub options: String,
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge")
            .field("ceremony", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A registered passkey, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id, base64url.
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// When it was registered.
    pub added: DateTime<Utc>,
    /// When it last signed in, if it has.
    pub last_used: Option<DateTime<Utc>>,
}

/// Why a passkey registration, listing or removal failed. None carries a
/// challenge, token or credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    /// The server's public URL has no domain name (WebAuthn needs one).
    #[error("passkeys need the server's public URL to have a domain name")]
    Unavailable,
    /// The ceremony is unknown, used, expired or another session's, or
    /// the authenticator's answer does not verify (wrong origin, RP,
    /// challenge, signature, or no user verification), or the credential
    /// is registered already.
    #[error("the passkey could not be verified")]
    Refused,
    /// The account has [`MAX_PASSKEYS_PER_MEMBER`] passkeys.
    #[error("this account has as many passkeys as it may have")]
    TooMany,
    /// The name is too long or has control characters.
    #[error("a passkey name is at most {MAX_PASSKEY_NAME_CHARS} printable characters")]
    InvalidName,
    /// No passkey of this account has that id.
    #[error("no such passkey")]
    NotFound,
    /// The database failed (logged on the server).
    #[error("passkeys are not available right now")]
    Storage,
}

fn passkey_aad(member_id: i64, credential_id: &str) -> Vec<u8> {
    aad(
        "staff_passkeys",
        "passkey",
        &[&member_id.to_string(), credential_id],
    )
}

fn state_aad(id_hash: &str, kind: &str) -> Vec<u8> {
    aad("staff_passkey_ceremonies", "state", &[id_hash, kind])
}

fn at_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A ceremony taken (deleted) from the table.
struct Ceremony {
    binding: String,
    member_id: i64,
    state: Zeroizing,
    client_key: String,
}

type Zeroizing = zeroize::Zeroizing<Vec<u8>>;

/// A registered passkey with its credential, unsealed.
struct StoredPasskey {
    id: String,
    passkey: Passkey,
}

fn storage(what: &str, e: &dyn fmt::Display) -> PasskeyError {
    tracing::error!(error = %e, "could not {what}");
    PasskeyError::Storage
}

/// The name as it is kept: trimmed, the default when empty.
fn checked_name(name: &str) -> Result<String, PasskeyError> {
    let name = name.trim();
    if name.chars().count() > MAX_PASSKEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PasskeyError::InvalidName);
    }
    Ok(if name.is_empty() {
        DEFAULT_NAME.to_owned()
    } else {
        name.to_owned()
    })
}

impl Staff {
    /// The WebAuthn user handle of an account: stable, random-looking, and
    /// not the account number.
    fn user_handle(&self, member_id: i64) -> Uuid {
        let digest = self
            .store
            .blind_index("staff-passkey-user-handle", &member_id.to_be_bytes());
        let bytes = B64U.decode(digest).unwrap_or_default();
        let mut handle = [0u8; 16];
        for (slot, byte) in handle.iter_mut().zip(bytes) {
            *slot = byte;
        }
        Uuid::from_bytes(handle)
    }

    /// Stores a new ceremony; returns its token. Sweeps expired ones first.
    async fn put_ceremony(
        &self,
        kind: &str,
        binding: &str,
        member_id: i64,
        state: &[u8],
        client_key: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreFailure> {
        let t = now.timestamp_millis();
        sqlx::query("DELETE FROM staff_passkey_ceremonies WHERE expires_at <= $1")
            .bind(t)
            .execute(self.store.pool())
            .await?;
        let token = random_token();
        let id_hash = self
            .store
            .blind_index("staff-passkey-ceremony", token.as_bytes());
        let sealed = self.store.seal(&state_aad(&id_hash, kind), state)?;
        sqlx::query(
            "INSERT INTO staff_passkey_ceremonies (id_hash, kind, binding, member_id, state, client_key, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id_hash)
        .bind(kind)
        .bind(binding)
        .bind(member_id)
        .bind(sealed.as_stored())
        .bind(client_key)
        .bind((now + CEREMONY_TTL).timestamp_millis())
        .execute(self.store.pool())
        .await?;
        Ok(token)
    }

    /// Takes (deletes) a ceremony of `kind`; `None` when there is no such
    /// ceremony or it has expired. Used once, whatever happens next.
    async fn take_ceremony(
        &self,
        token: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Ceremony>, StoreFailure> {
        if token.is_empty() || token.len() > MAX_CEREMONY_TOKEN_LEN {
            return Ok(None);
        }
        let id_hash = self
            .store
            .blind_index("staff-passkey-ceremony", token.as_bytes());
        let row = sqlx::query(
            "DELETE FROM staff_passkey_ceremonies WHERE id_hash = $1 AND kind = $2 \
             RETURNING binding, member_id, state, client_key, expires_at",
        )
        .bind(&id_hash)
        .bind(kind)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_at: i64 = row.try_get(4)?;
        if expires_at <= now.timestamp_millis() {
            return Ok(None);
        }
        let state = self.store.unseal(
            &state_aad(&id_hash, kind),
            &Sealed::from_stored(row.try_get(2)?),
        )?;
        Ok(Some(Ceremony {
            binding: row.try_get(0)?,
            member_id: row.try_get(1)?,
            state,
            client_key: row.try_get(3)?,
        }))
    }

    /// An account's passkeys, unsealed, oldest first.
    async fn stored_passkeys(&self, member_id: i64) -> Result<Vec<StoredPasskey>, StoreFailure> {
        let rows = sqlx::query(
            "SELECT credential_id, passkey FROM staff_passkeys WHERE member_id = $1 \
             ORDER BY created_at, credential_id",
        )
        .bind(member_id)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get(0)?;
            let json = self.store.unseal(
                &passkey_aad(member_id, &id),
                &Sealed::from_stored(row.try_get(1)?),
            )?;
            let passkey: Passkey = serde_json::from_slice(&json)
                .map_err(|_| StoreFailure::Store(crate::store::StoreError::Malformed))?;
            out.push(StoredPasskey { id, passkey });
        }
        Ok(out)
    }

    /// Starts registering a passkey for `member`, signed in with the
    /// session whose cookie holds `session_token`.
    ///
    /// # Errors
    /// [`PasskeyError::TooMany`] or [`PasskeyError::Storage`].
    pub async fn start_passkey_registration(
        &self,
        rp: &RelyingParty,
        session_token: &str,
        member: &StaffMember,
    ) -> Result<Challenge, PasskeyError> {
        let now = self.clock.now();
        let existing = self
            .stored_passkeys(member.id)
            .await
            .map_err(|e| storage("read a staff member's passkeys", &e))?;
        if existing.len() >= MAX_PASSKEYS_PER_MEMBER {
            return Err(PasskeyError::TooMany);
        }
        let exclude = existing
            .iter()
            .map(|p| p.passkey.cred_id().clone())
            .collect();
        let (options, state) = rp
            .webauthn
            .start_passkey_registration(
                self.user_handle(member.id),
                &member.username,
                &member.display_name,
                Some(exclude),
            )
            .map_err(|e| storage("start a passkey registration", &e))?;
        let state = zeroize::Zeroizing::new(
            serde_json::to_vec(&state).map_err(|e| storage("encode a ceremony", &e))?,
        );
        let options =
            serde_json::to_string(&options).map_err(|e| storage("encode passkey options", &e))?;
        let binding = token_hash(&self.store, session_token);
        let ceremony = self
            .put_ceremony(REGISTER, &binding, member.id, &state, "", now)
            .await
            .map_err(|e| storage("store a passkey ceremony", &e))?;
        Ok(Challenge { ceremony, options })
    }

    /// Finishes a registration: checks the authenticator's answer against
    /// the ceremony (which must be this session's and this member's) and
    /// keeps the passkey under `name`. Audited; without its audit record
    /// the passkey is not kept.
    ///
    /// # Errors
    /// [`PasskeyError::InvalidName`], [`PasskeyError::Refused`],
    /// [`PasskeyError::TooMany`] or [`PasskeyError::Storage`].
    #[allow(clippy::too_many_arguments)] // each is one fact of the request
    pub async fn finish_passkey_registration(
        &self,
        rp: &RelyingParty,
        session_token: &str,
        member: &StaffMember,
        ceremony: &str,
        name: &str,
        credential: &str,
        client: Option<IpAddr>,
    ) -> Result<PasskeyRecord, PasskeyError> {
        let now = self.clock.now();
        let name = checked_name(name)?;
        let taken = self
            .take_ceremony(ceremony, REGISTER, now)
            .await
            .map_err(|e| storage("take a passkey ceremony", &e))?;
        let binding = token_hash(&self.store, session_token);
        let Some(taken) = taken.filter(|c| {
            c.member_id == member.id && bool::from(c.binding.as_bytes().ct_eq(binding.as_bytes()))
        }) else {
            self.audit_passkey(
                member.id,
                AuditAction::StaffPasskeyAdded,
                None,
                AuditOutcome::Failure,
                client,
                &binding,
            )
            .await;
            return Err(PasskeyError::Refused);
        };
        let verified = (|| {
            if credential.len() > MAX_CREDENTIAL_JSON {
                return None;
            }
            let state: PasskeyRegistration = serde_json::from_slice(&taken.state).ok()?;
            let answer: RegisterPublicKeyCredential = serde_json::from_str(credential).ok()?;
            match rp.webauthn.finish_passkey_registration(&answer, &state) {
                Ok(passkey) => Some(passkey),
                Err(e) => {
                    tracing::info!(error = %e, "a passkey registration did not verify");
                    None
                }
            }
        })();
        let Some(passkey) = verified else {
            self.audit_passkey(
                member.id,
                AuditAction::StaffPasskeyAdded,
                None,
                AuditOutcome::Failure,
                client,
                &binding,
            )
            .await;
            return Err(PasskeyError::Refused);
        };
        let id = B64U.encode(passkey.cred_id().as_slice());
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(&passkey).map_err(|e| storage("encode a passkey", &e))?,
        );
        let inserted = self
            .insert_passkey(member.id, &id, &name, &json, now)
            .await
            .map_err(|e| storage("store a passkey", &e))?;
        match inserted {
            Insert::Done => {}
            Insert::TooMany => return Err(PasskeyError::TooMany),
            Insert::Taken => {
                self.audit_passkey(
                    member.id,
                    AuditAction::StaffPasskeyAdded,
                    None,
                    AuditOutcome::Failure,
                    client,
                    &binding,
                )
                .await;
                return Err(PasskeyError::Refused);
            }
        }
        let mut event = AuditEvent::new(
            Actor::Staff(member.id.to_string()),
            AuditAction::StaffPasskeyAdded,
            AuditOutcome::Success,
        )
        .with_entity("StaffPasskey", &id)
        .with_session_id(&binding);
        if let Some(addr) = client {
            event = event.with_client(addr);
        }
        if let Err(e) = self.audit.record(event).await {
            tracing::error!(error = %e, "a passkey registration could not be audited; not kept");
            let _ = sqlx::query("DELETE FROM staff_passkeys WHERE credential_id = $1")
                .bind(&id)
                .execute(self.store.pool())
                .await;
            return Err(PasskeyError::Storage);
        }
        tracing::info!(member = member.id, "staff passkey registered");
        Ok(PasskeyRecord {
            id,
            name,
            added: at_millis(now.timestamp_millis()),
            last_used: None,
        })
    }

    /// Inserts a passkey in one transaction, within the account's limit.
    async fn insert_passkey(
        &self,
        member_id: i64,
        id: &str,
        name: &str,
        json: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Insert, StoreFailure> {
        let sealed = self.store.seal(&passkey_aad(member_id, id), json)?;
        let mut tx = self.store.begin_write().await?;
        let taken = sqlx::query("SELECT 1 FROM staff_passkeys WHERE credential_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Ok(Insert::Taken);
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM staff_passkeys WHERE member_id = $1")
            .bind(member_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_PASSKEYS_PER_MEMBER {
            return Ok(Insert::TooMany);
        }
        let inserted = sqlx::query(
            "INSERT INTO staff_passkeys (credential_id, member_id, name, passkey, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(id)
        .bind(member_id)
        .bind(name)
        .bind(sealed.as_stored())
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if crate::store::is_conflict(&e) => return Ok(Insert::Taken),
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(Insert::Done)
    }

    /// An account's passkeys, oldest first.
    ///
    /// # Errors
    /// [`PasskeyError::Storage`].
    pub async fn passkeys(&self, member_id: i64) -> Result<Vec<PasskeyRecord>, PasskeyError> {
        let rows = sqlx::query(
            "SELECT credential_id, name, created_at, last_used_at FROM staff_passkeys \
             WHERE member_id = $1 ORDER BY created_at, credential_id",
        )
        .bind(member_id)
        .fetch_all(self.store.pool())
        .await
        .map_err(|e| storage("list passkeys", &e))?;
        rows.iter()
            .map(|row| {
                let last: i64 = row.try_get(3)?;
                Ok(PasskeyRecord {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    added: at_millis(row.try_get(2)?),
                    last_used: (last > 0).then(|| at_millis(last)),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| storage("read passkeys", &e))
    }

    /// Removes one of `member_id`'s passkeys; audited.
    ///
    /// # Errors
    /// [`PasskeyError::NotFound`] (also for another account's passkey) or
    /// [`PasskeyError::Storage`].
    pub async fn remove_passkey(
        &self,
        member_id: i64,
        credential_id: &str,
        session_token: &str,
        client: Option<IpAddr>,
    ) -> Result<(), PasskeyError> {
        let done =
            sqlx::query("DELETE FROM staff_passkeys WHERE credential_id = $1 AND member_id = $2")
                .bind(credential_id)
                .bind(member_id)
                .execute(self.store.pool())
                .await
                .map_err(|e| storage("remove a passkey", &e))?;
        if done.rows_affected() == 0 {
            return Err(PasskeyError::NotFound);
        }
        let binding = token_hash(&self.store, session_token);
        self.audit_passkey(
            member_id,
            AuditAction::StaffPasskeyRemoved,
            Some(credential_id),
            AuditOutcome::Success,
            client,
            &binding,
        )
        .await;
        tracing::info!(member = member_id, "staff passkey removed");
        Ok(())
    }

    async fn audit_passkey(
        &self,
        member_id: i64,
        action: AuditAction,
        credential_id: Option<&str>,
        outcome: AuditOutcome,
        client: Option<IpAddr>,
        session_hash: &str,
    ) {
        let mut event = AuditEvent::new(Actor::Staff(member_id.to_string()), action, outcome)
            .with_session_id(session_hash);
        event = match credential_id {
            Some(id) => event.with_entity("StaffPasskey", id),
            None => event.with_entity("StaffMember", &member_id.to_string()),
        };
        if let Some(addr) = client {
            event = event.with_client(addr);
        }
        self.audit.record_or_log(event).await;
    }

    /// Starts a passkey sign-in for a typed username.
    ///
    /// # Errors
    /// [`SignInError::Throttled`], [`SignInError::Locked`] (whether or not
    /// the account exists), or [`SignInError::Storage`]; for
    /// [`PasskeyError::Unavailable`] the caller does not call this.
    pub async fn start_passkey_sign_in(
        &self,
        rp: &RelyingParty,
        username: &str,
        client: Option<IpAddr>,
    ) -> Result<Challenge, SignInError> {
        let now = self.clock.now();
        let pool = self.store.pool();
        let address = self.take_address_attempt(client, now).await?;
        let username = super::normalize_username(username);
        let subject = throttle::account_subject(&self.store, &username);
        let member_id = self
            .active_id(&username)
            .await
            .map_err(|e| super::signin::storage("read a staff account", &e))?;
        if throttle::account_locked(pool, &subject, now)
            .await
            .map_err(|e| super::signin::storage("read a sign-in lock", &e))?
        {
            self.audit_failure(member_id, client, AuditOutcome::Denied)
                .await;
            return Err(SignInError::Locked);
        }
        let passkeys = match member_id {
            Some(id) => self
                .stored_passkeys(id)
                .await
                .map_err(|e| super::signin::storage("read a staff member's passkeys", &e))?,
            None => Vec::new(),
        };
        let (options, state, member_id) = if passkeys.is_empty() {
            (self.decoy_options(rp, &username), Vec::new(), 0)
        } else {
            let list: Vec<Passkey> = passkeys.into_iter().map(|p| p.passkey).collect();
            let (options, state) = rp
                .webauthn
                .start_passkey_authentication(&list)
                .map_err(|e| super::signin::storage("start a passkey sign-in", &e))?;
            let options = serde_json::to_value(&options)
                .map_err(|e| super::signin::storage("encode passkey options", &e))?;
            let state = serde_json::to_vec(&state)
                .map_err(|e| super::signin::storage("encode a ceremony", &e))?;
            (options, state, member_id.unwrap_or_default())
        };
        let state = zeroize::Zeroizing::new(state);
        let ceremony = self
            .put_ceremony(
                SIGN_IN,
                &subject,
                member_id,
                &state,
                address.as_deref().unwrap_or_default(),
                now,
            )
            .await
            .map_err(|e| super::signin::storage("store a passkey ceremony", &e))?;
        Ok(Challenge {
            ceremony,
            options: options.to_string(),
        })
    }

    /// Options shaped like a real account's, naming a credential that does
    /// not exist (the same one each time for the same name).
    fn decoy_options(&self, rp: &RelyingParty, username: &str) -> serde_json::Value {
        let mut challenge = [0u8; 32];
        OsRng.fill_bytes(&mut challenge);
        let decoy = self
            .store
            .blind_index("staff-passkey-decoy", username.as_bytes());
        serde_json::json!({
            "publicKey": {
                "challenge": B64U.encode(challenge),
                "timeout": CEREMONY_TTL.num_milliseconds(),
                "rpId": rp.rp_id,
                "allowCredentials": [{ "type": "public-key", "id": decoy }],
                "userVerification": "required",
            }
        })
    }

    /// Finishes a passkey sign-in: the authenticator's answer to the
    /// ceremony `ceremony`. On success a new session, as
    /// [`Staff::sign_in`] gives.
    ///
    /// # Errors
    /// [`SignInError::Refused`] for any wrong, replayed, expired or
    /// foreign answer, [`SignInError::Locked`], [`SignInError::Throttled`],
    /// or [`SignInError::Storage`].
    pub async fn finish_passkey_sign_in(
        &self,
        rp: &RelyingParty,
        ceremony: &str,
        credential: &str,
        client: Option<IpAddr>,
    ) -> Result<SignedIn, SignInError> {
        let now = self.clock.now();
        let pool = self.store.pool();
        let taken = self
            .take_ceremony(ceremony, SIGN_IN, now)
            .await
            .map_err(|e| super::signin::storage("take a passkey ceremony", &e))?;
        let Some(taken) = taken else {
            // No ceremony to charge the attempt to: charge the address.
            self.take_address_attempt(client, now).await?;
            self.audit_failure(None, client, AuditOutcome::Failure)
                .await;
            return Err(SignInError::Refused);
        };
        let member_id = (taken.member_id > 0).then_some(taken.member_id);
        let Some(nth) = throttle::reserve_account(pool, &taken.binding, now)
            .await
            .map_err(|e| super::signin::storage("reserve a sign-in attempt", &e))?
        else {
            self.audit_failure(member_id, client, AuditOutcome::Denied)
                .await;
            return Err(SignInError::Locked);
        };
        let checked = match member_id {
            Some(id) => self.check_assertion(rp, id, &taken, credential, now).await,
            None => Ok(None),
        };
        let member = match checked {
            Ok(Some(member)) => member,
            Ok(None) => {
                let last = nth >= throttle::MAX_CONSECUTIVE_FAILURES;
                let outcome = if last {
                    AuditOutcome::Denied
                } else {
                    AuditOutcome::Failure
                };
                self.audit_failure(member_id, client, outcome).await;
                return Err(if last {
                    SignInError::Locked
                } else {
                    SignInError::Refused
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "a passkey sign-in could not be checked");
                return Err(SignInError::Storage);
            }
        };
        throttle::clear_account(pool, &taken.binding)
            .await
            .map_err(|e| super::signin::storage("clear sign-in failures", &e))?;
        if !taken.client_key.is_empty() {
            throttle::release_address(pool, &taken.client_key)
                .await
                .map_err(|e| super::signin::storage("release a sign-in attempt", &e))?;
        }
        let (token, csrf, hash) = self
            .create_session(member.id, now)
            .await
            .map_err(|e| super::signin::storage("store a staff session", &e))?;
        let mut event = AuditEvent::new(
            Actor::Staff(member.id.to_string()),
            AuditAction::StaffSignInPasskey,
            AuditOutcome::Success,
        )
        .with_entity("StaffMember", &member.id.to_string())
        .with_session_id(&hash);
        if let Some(addr) = client {
            event = event.with_client(addr);
        }
        if let Err(e) = self.audit.record(event).await {
            tracing::error!(error = %e, "staff passkey sign-in could not be audited; refused");
            let _ = self.delete_session(&hash).await;
            return Err(SignInError::Storage);
        }
        tracing::info!(member = member.id, "staff signed in with a passkey");
        Ok(SignedIn {
            member,
            token,
            csrf,
        })
    }

    /// Verifies an assertion for account `member_id` against the ceremony;
    /// `Ok(Some)` when it verifies (with user verification) for one of the
    /// account's passkeys, whose counter and last use are then updated.
    async fn check_assertion(
        &self,
        rp: &RelyingParty,
        member_id: i64,
        taken: &Ceremony,
        credential: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffMember>, StoreFailure> {
        if credential.len() > MAX_CREDENTIAL_JSON {
            return Ok(None);
        }
        let Ok(state) = serde_json::from_slice::<PasskeyAuthentication>(&taken.state) else {
            return Ok(None);
        };
        let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(credential) else {
            return Ok(None);
        };
        let result = match rp.webauthn.finish_passkey_authentication(&answer, &state) {
            Ok(result) if result.user_verified() => result,
            Ok(_) => return Ok(None),
            Err(e) => {
                tracing::info!(error = %e, "a passkey sign-in did not verify");
                return Ok(None);
            }
        };
        // The credential must still be one of this account's (it may have
        // been removed since the ceremony began).
        let id = B64U.encode(result.cred_id().as_slice());
        let mut stored = self.stored_passkeys(member_id).await?;
        let Some(entry) = stored.iter_mut().find(|p| p.id == id) else {
            return Ok(None);
        };
        let Some(member) = self.member_by_id(member_id).await? else {
            return Ok(None);
        };
        entry.passkey.update_credential(&result);
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(&entry.passkey)
                .map_err(|_| StoreFailure::Store(crate::store::StoreError::Encoding))?,
        );
        let sealed = self.store.seal(&passkey_aad(member_id, &id), &json)?;
        sqlx::query(
            "UPDATE staff_passkeys SET passkey = $1, last_used_at = $2 \
             WHERE credential_id = $3 AND member_id = $4",
        )
        .bind(sealed.as_stored())
        .bind(now.timestamp_millis())
        .bind(&id)
        .bind(member_id)
        .execute(self.store.pool())
        .await?;
        Ok(Some(member))
    }

    /// The id of the account with this (normalized) username, unless it
    /// is disabled: a disabled account gets a decoy, like no account.
    async fn active_id(&self, username: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query("SELECT id FROM staff_members WHERE username = $1 AND disabled_at = 0")
            .bind(username)
            .fetch_optional(self.store.pool())
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()
    }

    /// The account, unless it has been removed or disabled since.
    async fn member_by_id(&self, id: i64) -> Result<Option<StaffMember>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, username, display_name, role FROM staff_members \
             WHERE id = $1 AND disabled_at = 0",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let role: String = row.try_get(3)?;
        let Some(role) = Role::parse(&role) else {
            tracing::error!("a staff member's stored role is unknown; treated as no account");
            return Ok(None);
        };
        Ok(Some(StaffMember {
            id: row.try_get(0)?,
            username: row.try_get(1)?,
            display_name: row.try_get(2)?,
            role,
        }))
    }
}

/// How an insert went.
enum Insert {
    Done,
    TooMany,
    Taken,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_is_no_relying_party() {
        assert_eq!(
            RelyingParty::for_public_url("http://127.0.0.1:8080", "Clinic").err(),
            Some(PasskeyError::Unavailable)
        );
        assert_eq!(
            RelyingParty::for_public_url("https://[::1]:8443", "Clinic").err(),
            Some(PasskeyError::Unavailable)
        );
        let rp = RelyingParty::for_public_url("https://chat.clinic.example", "Clinic");
        assert_eq!(
            rp.map(|rp| rp.rp_id().to_owned()).ok().as_deref(),
            Some("chat.clinic.example")
        );
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(
            checked_name("  Work laptop ").ok().as_deref(),
            Some("Work laptop")
        );
        assert_eq!(checked_name("").ok().as_deref(), Some(DEFAULT_NAME));
        assert_eq!(
            checked_name(&"x".repeat(61)),
            Err(PasskeyError::InvalidName)
        );
        assert_eq!(checked_name("a\u{7}b"), Err(PasskeyError::InvalidName));
    }

    #[test]
    fn a_challenge_never_prints_its_token() {
        let c = Challenge {
            ceremony: "TOKEN-VALUE".into(),
            options: "{}".into(),
        };
        assert!(!format!("{c:?}").contains("TOKEN-VALUE"));
    }
}
