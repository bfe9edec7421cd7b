//! Administration: staff accounts and roles, clinic settings (FAQ entries,
//! staffed hours, canned responses), and the canned responses the chat
//! roles use.
//!
//! The types that cross the wire for this area and, with the `ssr`
//! feature, the part of the backend the server implements. Admins manage
//! accounts and settings and never receive message content; front desk and
//! nurses only read the canned responses. No type here carries a password
//! hash or a stored secret: a TOTP secret crosses once, in
//! [`SecondFactor`], when an admin creates an account or resets its second
//! factor.

use serde::{Deserialize, Serialize};

use super::{Refusal, Role};

/// A staff account as the admin page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAccount {
    /// The account's number.
    pub id: i64,
    /// The sign-in name.
    pub username: String,
    /// The name patients and colleagues see.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// Failed sign-ins lock it for now.
    pub locked: bool,
    /// It is the signed-in admin's own account (which they may not
    /// disable or demote).
    pub own: bool,
}

/// A new account's details, as the admin types them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStaff {
    /// The sign-in name (letters, digits, `.`, `_`, `-`, `@`).
    pub username: String,
    /// The display name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The initial password (at least 12 characters), which the admin
    /// hands over with the second factor.
    pub password: String,
}

impl std::fmt::Debug for NewStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewStaff")
            .field("username", &self.username)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A TOTP secret, shown to the admin once to hand to the staff member.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactor {
    /// Whose it is.
    pub username: String,
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://totp/` URI.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("otpauth_uri", &"<redacted>")
            .finish()
    }
}

/// One weekday's staffed hours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHours {
    /// `mon` … `sun`.
    pub day: String,
    /// Opening time, `HH:MM` (24-hour); empty when closed.
    pub opens: String,
    /// Closing time, `HH:MM`; empty when closed.
    pub closes: String,
}

/// The week's staffed hours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffedHours {
    /// Seven days, Monday first.
    pub days: Vec<DayHours>,
    /// The clinic's time zone the times are in (`America/Chicago`).
    pub time_zone: String,
}

/// The weekdays' short names, Monday first, as [`DayHours::day`] has them.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One FAQ entry's words, as the admin edits them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqEntry {
    /// The entry (`faq.hours`), from the knowledge file.
    pub intent: String,
    /// The English answer.
    pub answer_en: String,
    /// English example questions.
    pub examples_en: Vec<String>,
    /// The Spanish answer; empty for none.
    pub answer_es: String,
    /// Spanish example questions.
    pub examples_es: Vec<String>,
}

/// A canned response: a reply front desk and nurses insert into a chat,
/// in the chat's language, and edit before sending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponse {
    /// Its number; 0 for one not saved yet.
    pub id: i64,
    /// What staff pick it by.
    pub title: String,
    /// The English text.
    pub text_en: String,
    /// The Spanish text.
    pub text_es: String,
}

impl CannedResponse {
    /// The text for a chat in `locale` (`en` or `es`; English otherwise).
    pub fn text_for(&self, locale: &str) -> &str {
        if locale == "es" {
            &self.text_es
        } else {
            &self.text_en
        }
    }
}

/// Why an admin call failed: a [`Refusal`], or input that is not valid,
/// with a message that says what to fix (never what was typed back, and
/// never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AdminError {
    /// The session, origin, CSRF token or role refused it, or the server
    /// could not do it.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The input is not valid.
    #[error("{0}")]
    Invalid(String),
}

/// The server's side of this area; part of [`super::ConsoleBackend`].
/// Every state change checks the session, the origin and the CSRF token,
/// then the role, and is audited.
/// Every method defaults to `Unavailable`, so a backend that does not
/// serve this area (a test double) need not spell it out.
#[allow(unused_variables)]
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait AdminBackend: Send + Sync + 'static {
    /// Every staff account (admin).
    async fn staff_accounts(
        &self,
        facts: &super::RequestFacts,
    ) -> Result<Vec<StaffAccount>, AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Adds an account; its TOTP secret, shown once (admin).
    async fn add_staff(
        &self,
        facts: &super::RequestFacts,
        new: &NewStaff,
    ) -> Result<SecondFactor, AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Changes an account's role; never the admin's own to another role,
    /// never the last active admin's (admin).
    async fn set_staff_role(
        &self,
        facts: &super::RequestFacts,
        id: i64,
        role: Role,
    ) -> Result<(), AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Disables (ending its sessions) or enables an account; never the
    /// admin's own (admin).
    async fn set_staff_disabled(
        &self,
        facts: &super::RequestFacts,
        id: i64,
        disabled: bool,
    ) -> Result<(), AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Gives an account a new TOTP secret, shown once (admin).
    async fn reset_second_factor(
        &self,
        facts: &super::RequestFacts,
        id: i64,
    ) -> Result<SecondFactor, AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Ends the lock failed sign-ins put on an account (admin).
    async fn unlock_staff(&self, facts: &super::RequestFacts, id: i64) -> Result<(), AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// The staffed hours in force (admin).
    async fn staffed_hours(&self, facts: &super::RequestFacts) -> Result<StaffedHours, AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Sets the staffed hours (admin); patients are told by them at once.
    async fn set_staffed_hours(
        &self,
        facts: &super::RequestFacts,
        hours: &StaffedHours,
    ) -> Result<(), AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Every FAQ entry as in force (admin).
    async fn faq_entries(&self, facts: &super::RequestFacts) -> Result<Vec<FaqEntry>, AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Edits one FAQ entry (admin); the assistant answers by it when this
    /// returns.
    async fn set_faq_entry(
        &self,
        facts: &super::RequestFacts,
        entry: &FaqEntry,
    ) -> Result<(), AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Every canned response (admin, front desk, nurse).
    async fn canned_responses(
        &self,
        facts: &super::RequestFacts,
    ) -> Result<Vec<CannedResponse>, AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Adds (`id` 0) or changes a canned response (admin).
    async fn save_canned_response(
        &self,
        facts: &super::RequestFacts,
        response: &CannedResponse,
    ) -> Result<CannedResponse, AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
    /// Deletes a canned response (admin).
    async fn delete_canned_response(
        &self,
        facts: &super::RequestFacts,
        id: i64,
    ) -> Result<(), AdminError> {
        Err(super::Refusal::Unavailable.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let factor = SecondFactor {
            username: "ann".into(),
            secret: "SECRETBASE".into(),
            otpauth_uri: "otpauth://totp/x?secret=SECRETBASE".into(),
        };
        let new = NewStaff {
            username: "ann".into(),
            name: "Ann".into(),
            role: Role::Nurse,
            password: "PASSWORD-VALUE".into(),
        };
        let text = format!("{factor:?} {new:?}");
        assert!(!text.contains("SECRETBASE") && !text.contains("PASSWORD-VALUE"));
    }

    #[test]
    fn canned_text_follows_the_chat_language() {
        let response = CannedResponse {
            id: 1,
            title: "Hi".into(),
            text_en: "Hello".into(),
            text_es: "Hola".into(),
        };
        assert_eq!(response.text_for("es"), "Hola");
        assert_eq!(response.text_for("en"), "Hello");
    }
}
