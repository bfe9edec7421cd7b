//! Passkeys (WebAuthn): registering one while signed in, and signing in with one.
//!
//! The console's side of [`crate::staff::passkey`]: the same checks as
//! every other call (session; this server's origin and the CSRF token on
//! each state change), then one call into [`Staff`](crate::staff::Staff).
//! The relying party is this server's public URL, the first of
//! [`Backend`]'s origins; on a server whose public URL is an IP address
//! every call here answers [`Refusal::Unavailable`]. Sign-in failures map
//! to the same refusals as a password sign-in's.

use carechat_console::api::passkey::{PasskeyBackend, PasskeyChallenge, PasskeyInfo};
use carechat_console::api::{Me, Refusal, RequestFacts, SetCookie};

use super::{role_of, Backend};
use crate::staff::passkey::{Challenge, PasskeyError, PasskeyRecord, RelyingParty};
use crate::staff::{self, SignInError};

/// What authenticators show as the relying party's name.
const RP_NAME: &str = "CareChat";

fn refusal(e: PasskeyError) -> Refusal {
    match e {
        PasskeyError::Unavailable | PasskeyError::Storage => Refusal::Unavailable,
        PasskeyError::Refused => Refusal::BadRequest,
        PasskeyError::TooMany | PasskeyError::InvalidName => Refusal::Invalid,
        PasskeyError::NotFound => Refusal::Gone,
    }
}

fn sign_in_refusal(e: SignInError) -> Refusal {
    match e {
        SignInError::Refused => Refusal::BadCredentials,
        SignInError::Locked => Refusal::Locked,
        SignInError::Throttled => Refusal::Throttled,
        SignInError::Storage => Refusal::Unavailable,
    }
}

fn challenge(c: Challenge) -> PasskeyChallenge {
    PasskeyChallenge {
        ceremony: c.ceremony,
        options: c.options,
    }
}

fn info(record: PasskeyRecord) -> PasskeyInfo {
    PasskeyInfo {
        id: record.id,
        name: record.name,
        added: record.added.to_rfc3339(),
        last_used: record.last_used.map(|t| t.to_rfc3339()),
    }
}

impl Backend {
    /// The relying party: this server's public URL.
    fn relying_party(&self) -> Result<RelyingParty, Refusal> {
        let url = self.origins.first().ok_or(Refusal::Unavailable)?;
        RelyingParty::for_public_url(url, RP_NAME).map_err(refusal)
    }
}

#[async_trait::async_trait]
impl PasskeyBackend for Backend {
    async fn passkey_register_start(
        &self,
        facts: &RequestFacts,
    ) -> Result<PasskeyChallenge, Refusal> {
        let session = self.changing(facts).await?;
        let rp = self.relying_party()?;
        let token = facts.session.as_deref().unwrap_or_default();
        self.staff
            .start_passkey_registration(&rp, token, &session.member)
            .await
            .map(challenge)
            .map_err(refusal)
    }

    async fn passkey_register_finish(
        &self,
        facts: &RequestFacts,
        ceremony: &str,
        name: &str,
        credential: &str,
    ) -> Result<PasskeyInfo, Refusal> {
        let session = self.changing(facts).await?;
        let rp = self.relying_party()?;
        let token = facts.session.as_deref().unwrap_or_default();
        self.staff
            .finish_passkey_registration(
                &rp,
                token,
                &session.member,
                ceremony,
                name,
                credential,
                facts.client,
            )
            .await
            .map(info)
            .map_err(refusal)
    }

    async fn passkeys(&self, facts: &RequestFacts) -> Result<Vec<PasskeyInfo>, Refusal> {
        let session = self.signed_in(facts).await?;
        self.staff
            .passkeys(session.member.id)
            .await
            .map(|list| list.into_iter().map(info).collect())
            .map_err(refusal)
    }

    async fn passkey_remove(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        let session = self.changing(facts).await?;
        let token = facts.session.as_deref().unwrap_or_default();
        self.staff
            .remove_passkey(session.member.id, id, token, facts.client)
            .await
            .map_err(refusal)
    }

    async fn passkey_sign_in_start(
        &self,
        facts: &RequestFacts,
        username: &str,
    ) -> Result<PasskeyChallenge, Refusal> {
        if !self.origin_ok(facts) {
            return Err(Refusal::BadRequest);
        }
        let rp = self.relying_party()?;
        self.staff
            .start_passkey_sign_in(&rp, username, facts.client)
            .await
            .map(challenge)
            .map_err(sign_in_refusal)
    }

    async fn passkey_sign_in_finish(
        &self,
        facts: &RequestFacts,
        ceremony: &str,
        credential: &str,
    ) -> Result<(Me, SetCookie), Refusal> {
        if !self.origin_ok(facts) {
            return Err(Refusal::BadRequest);
        }
        let rp = self.relying_party()?;
        let signed = self
            .staff
            .finish_passkey_sign_in(&rp, ceremony, credential, facts.client)
            .await
            .map_err(sign_in_refusal)?;
        let cookie = staff::session_cookie(&signed.token, self.secure, self.staff.policy());
        let me = Me {
            name: signed.member.display_name.clone(),
            role: role_of(signed.member.role),
            csrf: signed.csrf.clone(),
        };
        Ok((me, cookie))
    }
}
