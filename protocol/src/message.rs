//! The JSON messages inside frames. Field order is part of the contract
//! (the known-answer vectors compare serialized bytes), so do not reorder
//! fields within a variant.
//!
//! The core messages are those of `PROTOCOL.md`; CareChat's own additions
//! are documented in `docs/PROTOCOL-EXTENSIONS.md`.

use serde::{Deserialize, Serialize};

/// Messages the widget sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First frame of every connection.
    Sync {
        /// Highest `seq` the client accepted from the server, if any.
        last_seq_received: Option<u64>,
    },
    /// The patient's answer to the disclaimer and privacy notice.
    Consent {
        /// Whether the patient agreed.
        accepted: bool,
        /// The policy version the patient saw (from `welcome`).
        policy_version: String,
    },
    /// Something the patient typed.
    Say {
        /// Client-chosen id; the server answers each id once.
        id: String,
        /// The text.
        text: String,
    },
    /// The patient ended the chat; the server forgets the session.
    End,
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First frame of every connection.
    Sync {
        /// Highest `seq` the server accepted from the client, if any.
        last_seq_received: Option<u64>,
    },
    /// First message after `sync` in a new session.
    Welcome {
        /// The consent policy version the patient is asked to accept.
        policy_version: String,
        /// Whether consent must be given before anything is processed.
        consent_required: bool,
        /// The disclaimer to show before consent.
        disclaimer: String,
        /// BCP 47 language tag of the server's texts.
        locale: String,
    },
    /// The answer to one `say`.
    Reply {
        /// The `id` of the `say` this answers.
        in_reply_to: String,
        /// The answer.
        text: String,
        /// What the server understood the message as, e.g. `faq.hours`.
        intent: String,
        /// True when staff took over or emergency guidance was given.
        escalated: bool,
    },
    /// CareChat extension: a status line for the patient that answers no
    /// particular `say`, e.g. the outcome of `consent` or a session notice.
    Notice {
        /// A stable machine-readable code, e.g. `consent_accepted`.
        code: String,
        /// Words for the patient.
        text: String,
    },
    /// Something the client sent could not be acted on.
    Error {
        /// A stable machine-readable code, e.g. `consent_required`.
        code: String,
        /// Words for the patient.
        text: String,
    },
}
