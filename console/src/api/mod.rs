//! What the console shows and asks for: the types that cross between the
//! console in the browser and the server (serde, both sides), and, with the
//! `ssr` feature, the [`ConsoleBackend`] the server implements. The server
//! functions in [`crate::calls`] are thin: they find the backend and the
//! request's cookie, origin and CSRF token, and call one method. Every role
//! check happens in the backend, on the server, never only in the UI.

use serde::{Deserialize, Serialize};

pub mod admin;
pub mod feedback;
pub mod passkey;
pub mod records;

/// A staff member's role, as the server enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The queue and live chats; unlocks a patient's verification lockout.
    FrontDesk,
    /// Front-desk rights, crisis chats first, transcripts of chats they were in.
    Nurse,
    /// The audit log and feedback counts; never message content.
    Compliance,
    /// Staff accounts and clinic settings; never message content.
    Admin,
}

/// The signed-in staff member, as the console shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The CSRF token every state-changing call must carry.
    pub csrf: String,
}

/// Why a conversation is in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reason {
    /// The patient asked for a person.
    AskedForPerson,
    /// The safety screen found a crisis or emergency; `category` is
    /// `self_harm`, `harm_to_others`, `abuse`, `medical_emergency` or
    /// `poisoning`.
    Crisis {
        /// What the screen found.
        category: String,
    },
    /// Two answers in a row did not help.
    NotHelped,
    /// The EHR failed on something the patient needed.
    RecordsUnavailable,
}

/// One conversation waiting for, or owned by, a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Opaque id of this handoff (never the session id).
    pub id: String,
    /// Why it is queued.
    pub reason: Reason,
    /// Seconds since it was queued.
    pub waiting_secs: u64,
    /// The staff member who owns it, if someone picked it up.
    pub owner: Option<String>,
    /// The chat's language, `en` or `es`.
    pub locale: String,
    /// For a verified patient: their name, for the roles that may see it.
    pub patient: Option<String>,
}

/// Who said a line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Speaker {
    /// The patient.
    Patient,
    /// The assistant.
    Assistant,
    /// A staff member.
    Staff {
        /// Their display name.
        name: String,
    },
}

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Who said it.
    pub speaker: Speaker,
    /// What was said.
    pub text: String,
    /// When, RFC 3339.
    pub at: String,
}

/// A conversation as staff read it before and while they own it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The queue entry.
    pub entry: QueueEntry,
    /// Everything said so far, oldest first.
    pub lines: Vec<Line>,
}

/// What the realtime channel (`/console/ws`) pushes, as JSON text frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    /// The queue changed: fetch it again.
    QueueChanged,
    /// A new line in a conversation this staff member may read.
    Line {
        /// The handoff id.
        id: String,
        /// The line.
        line: Line,
    },
    /// The patient is typing in a conversation this staff member owns.
    PatientTyping {
        /// The handoff id.
        id: String,
    },
}

/// Why a call was refused. The console shows a fixed text per kind; no
/// kind carries internals or PHI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not signed in, or the session ended (idle or absolute expiry).
    #[error("signed out")]
    SignedOut,
    /// Wrong username, password or code (one answer for all).
    #[error("wrong username, password or code")]
    BadCredentials,
    /// The account is locked for a while (said whether or not it exists).
    #[error("locked")]
    Locked,
    /// Too many attempts from this address.
    #[error("too many attempts")]
    Throttled,
    /// The CSRF token or the request's origin is wrong.
    #[error("forbidden request")]
    BadRequest,
    /// The role may not do this.
    #[error("not allowed for this role")]
    NotAllowed,
    /// No such conversation, or it is no longer in the queue.
    #[error("no such conversation")]
    Gone,
    /// Someone else owns the conversation.
    #[error("owned by someone else")]
    Taken,
    /// A field of the request is not valid (a date that is not a date, a
    /// text too long); the form says what it expects.
    #[error("invalid input")]
    Invalid,
    /// The server could not do it right now.
    #[error("unavailable")]
    Unavailable,
}

/// What the server function layer knows about one request.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// The staff session cookie's value, if sent.
    pub session: Option<String>,
    /// The `Origin` header, if sent.
    pub origin: Option<String>,
    /// The `X-CSRF-Token` header or the call's `csrf` argument.
    pub csrf: Option<String>,
    /// The client's address as the server determined it.
    pub client: Option<std::net::IpAddr>,
}

/// A `Set-Cookie` value for the response (sign-in and sign-out).
#[cfg(feature = "ssr")]
pub type SetCookie = String;

/// The server's side of the console. Every method checks the session, the
/// CSRF token on state changes, the origin, and the role, and records its
/// audit event; the server functions only pass requests through. Each area
/// beyond the queue has its own part, in its own module.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ConsoleBackend:
    admin::AdminBackend
    + feedback::FeedbackBackend
    + passkey::PasskeyBackend
    + records::RecordsBackend
    + Send
    + Sync
    + 'static
{
    /// Password and TOTP code; on success the cookie to set and who it is.
    async fn sign_in(
        &self,
        facts: &RequestFacts,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<(Me, SetCookie), Refusal>;
    /// Ends the session; the cookie that clears it.
    async fn sign_out(&self, facts: &RequestFacts) -> Result<SetCookie, Refusal>;
    /// Who is signed in.
    async fn me(&self, facts: &RequestFacts) -> Result<Me, Refusal>;
    /// The queue, crisis chats first (front desk and nurse).
    async fn queue(&self, facts: &RequestFacts) -> Result<Vec<QueueEntry>, Refusal>;
    /// A queued or owned conversation with what was said (front desk and
    /// nurse); audited as a transcript read.
    async fn conversation(&self, facts: &RequestFacts, id: &str) -> Result<Conversation, Refusal>;
    /// Takes ownership: the bot goes quiet and the patient is told.
    async fn pick_up(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal>;
    /// Sends a message to the patient, inside their encrypted session.
    async fn send(&self, facts: &RequestFacts, id: &str, text: &str) -> Result<(), Refusal>;
    /// Tells the patient the staff member is typing.
    async fn typing(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal>;
    /// Hands the conversation back to the assistant.
    async fn hand_back(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal>;
    /// Closes the conversation.
    async fn close(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal>;
    /// Subscribes to realtime events for this session (the `/console/ws`
    /// channel calls it after checking the origin); `None` when signed out.
    async fn events(
        &self,
        facts: &RequestFacts,
    ) -> Result<tokio::sync::broadcast::Receiver<Event>, Refusal>;
}
