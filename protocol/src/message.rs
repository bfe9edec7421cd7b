//! The JSON messages inside frames. Field order is part of the contract
//! (the known-answer vectors compare serialized bytes), so do not reorder
//! fields within a variant.
//!
//! The core messages are those of `PROTOCOL.md`; CareChat's own additions
//! are documented in `docs/PROTOCOL-EXTENSIONS.md`.

use serde::{Deserialize, Serialize};

use crate::vocab::{FeedbackReason, Vote};

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
    /// CareChat extension: the patient picked an action on a `card` (a slot,
    /// "Cancel this appointment", "Yes, book it"). Answered like a `say`:
    /// once per `id`.
    Choose {
        /// Client-chosen id, from the same space as `say` ids.
        id: String,
        /// The action's `id`, exactly as the card gave it.
        action: String,
    },
    /// CareChat extension: the patient chose the language of the chat
    /// (`"en"` or `"es"`). The server answers with `locale`, and replies in
    /// that language until the patient writes in another one.
    Locale {
        /// A language tag the clinic offers: `en` or `es`.
        locale: String,
    },
    /// CareChat extension: the patient is typing. Shown to the person from
    /// the clinic who owns the chat; ignored otherwise. Clients send it at
    /// most once every few seconds while the patient types.
    Typing,
    /// CareChat extension: the patient's thumbs up or down on one of the
    /// assistant's replies, with an optional reason for a thumbs down. A
    /// later one for the same reply replaces the earlier. Never answered
    /// when accepted.
    Feedback {
        /// The `in_reply_to` of the reply it is about (the `say` or
        /// `choose` id the reply answered).
        in_reply_to: String,
        /// Up or down.
        vote: Vote,
        /// Why it did not help; only with a `down` vote, and optional.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<FeedbackReason>,
    },
}

/// Why a plaintext is not a [`ClientMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableMessage {
    /// A `feedback` whose fields are missing or wrong: answered with the
    /// error `invalid_feedback`, and the session goes on.
    #[error("a feedback message with missing or invalid fields")]
    Feedback,
    /// Anything else that is not a client message: the frame is rejected.
    #[error("not a client message")]
    NotAMessage,
}

/// Reads one client message from a frame's plaintext, telling a malformed
/// `feedback` (a patient's vote must never cost them their chat) from
/// anything else that is not a message.
///
/// # Errors
/// [`UnreadableMessage`].
pub fn read_client_message(plaintext: &[u8]) -> Result<ClientMessage, UnreadableMessage> {
    /// Just the `type` of an object; other fields are ignored.
    #[derive(Deserialize)]
    struct Tagged<'a> {
        #[serde(rename = "type", borrow)]
        message_type: std::borrow::Cow<'a, str>,
    }
    // serde also reads an internally tagged enum (and a struct) from a JSON
    // array, `["say","m1","hi"]`; the plaintext is one JSON object.
    let json_whitespace = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    if plaintext.iter().find(|b| !json_whitespace(b)) != Some(&b'{') {
        return Err(UnreadableMessage::NotAMessage);
    }
    serde_json::from_slice(plaintext).map_err(|_| {
        match serde_json::from_slice::<Tagged<'_>>(plaintext) {
            Ok(tagged) if tagged.message_type == "feedback" => UnreadableMessage::Feedback,
            _ => UnreadableMessage::NotAMessage,
        }
    })
}

/// One line of a [`ServerMessage::Card`], with the actions that apply to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardItem {
    /// The main text, e.g. "Tue, Dec 1 · 2:30 PM".
    pub title: String,
    /// A second line, e.g. "Dr. Anika Patel · Checkup"; may be empty.
    pub detail: String,
    /// Buttons for this line; may be empty.
    pub actions: Vec<CardAction>,
}

/// A button on a card. Pressing it sends `choose` with its `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardAction {
    /// Opaque to the client; valid only in the session that received it.
    pub id: String,
    /// The button's words.
    pub label: String,
    /// CareChat extension: a `tel:` or `sms:` link the button opens instead
    /// of sending `choose` (the emergency card's "Call 988"). Clients show
    /// any other scheme as a plain label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

impl CardAction {
    /// A button that sends `choose` with this id.
    #[must_use]
    pub fn choose(id: String, label: String) -> Self {
        Self {
            id,
            label,
            href: None,
        }
    }
}

/// Messages the server sends.
///
/// Deserialized through [`AnyServerMessage`], a flat struct of optional
/// fields, rather than serde's internally tagged enum support: that buffers
/// every field into an intermediate tree and costs about 14 KB of wasm in the
/// widget, a large share of its size budget. The JSON accepted is the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "AnyServerMessage")]
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
    /// CareChat extension: structured content that goes with a reply, such
    /// as the patient's appointments, free slots to pick from, or a booking
    /// confirmation.
    Card {
        /// The `id` of the `say` or `choose` this belongs to.
        in_reply_to: String,
        /// What the card shows: `appointments`, `slots`, `confirm`,
        /// `booked`, `cancelled`, `labs`, `refills`.
        kind: String,
        /// A heading.
        title: String,
        /// The lines.
        items: Vec<CardItem>,
        /// Buttons for the card as a whole; may be empty.
        actions: Vec<CardAction>,
        /// For `emergency` cards: what the safety screen found
        /// (`self_harm`, `harm_to_others`, `abuse`, `medical_emergency`,
        /// `poisoning`); staff see it too. Absent on other cards.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// CareChat extension: the language of the chat from now on, sent when
    /// the patient chose one (`locale` from the client) or wrote in another
    /// one, with the notice in that language so a consent screen can be
    /// shown again in it.
    Locale {
        /// `en` or `es`.
        locale: String,
        /// The disclaimer of `welcome`, in this language.
        disclaimer: String,
    },
    /// CareChat extension: a message from a person at the clinic who owns
    /// the chat (see the `handoff_*` notices).
    Staff {
        /// Unique per message in this session; a client shows each id once.
        id: String,
        /// The staff member's display name, e.g. "Sam Rivera".
        name: String,
        /// Their role as the patient should read it: `front_desk` or
        /// `nurse`.
        role: String,
        /// The message.
        text: String,
    },
    /// CareChat extension: the person who owns the chat is typing.
    Typing {
        /// Their display name.
        name: String,
    },
    /// Something the client sent could not be acted on.
    Error {
        /// A stable machine-readable code, e.g. `consent_required`.
        code: String,
        /// Words for the patient.
        text: String,
    },
}

/// Every field any server message may carry; which ones must be present
/// depends on `type`. Unknown fields are ignored.
#[derive(Deserialize)]
#[doc(hidden)]
pub struct AnyServerMessage {
    #[serde(rename = "type")]
    message_type: String,
    last_seq_received: Option<u64>,
    policy_version: Option<String>,
    consent_required: Option<bool>,
    disclaimer: Option<String>,
    locale: Option<String>,
    in_reply_to: Option<String>,
    text: Option<String>,
    intent: Option<String>,
    escalated: Option<bool>,
    code: Option<String>,
    kind: Option<String>,
    title: Option<String>,
    items: Option<Vec<CardItem>>,
    actions: Option<Vec<CardAction>>,
    category: Option<String>,
    id: Option<String>,
    name: Option<String>,
    role: Option<String>,
}

/// A server message of an unknown type, or missing a field its type needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a complete server message of a known type")]
pub struct UnknownMessage;

impl TryFrom<AnyServerMessage> for ServerMessage {
    type Error = UnknownMessage;

    fn try_from(m: AnyServerMessage) -> Result<Self, UnknownMessage> {
        let need = |field: Option<String>| field.ok_or(UnknownMessage);
        Ok(match m.message_type.as_str() {
            "sync" => Self::Sync {
                last_seq_received: m.last_seq_received,
            },
            "welcome" => Self::Welcome {
                policy_version: need(m.policy_version)?,
                consent_required: m.consent_required.ok_or(UnknownMessage)?,
                disclaimer: need(m.disclaimer)?,
                locale: need(m.locale)?,
            },
            "reply" => Self::Reply {
                in_reply_to: need(m.in_reply_to)?,
                text: need(m.text)?,
                intent: need(m.intent)?,
                escalated: m.escalated.ok_or(UnknownMessage)?,
            },
            "notice" => Self::Notice {
                code: need(m.code)?,
                text: need(m.text)?,
            },
            "card" => Self::Card {
                in_reply_to: need(m.in_reply_to)?,
                kind: need(m.kind)?,
                title: need(m.title)?,
                items: m.items.ok_or(UnknownMessage)?,
                actions: m.actions.ok_or(UnknownMessage)?,
                category: m.category,
            },
            "locale" => Self::Locale {
                locale: need(m.locale)?,
                disclaimer: need(m.disclaimer)?,
            },
            "staff" => Self::Staff {
                id: need(m.id)?,
                name: need(m.name)?,
                role: need(m.role)?,
                text: need(m.text)?,
            },
            "typing" => Self::Typing {
                name: need(m.name)?,
            },
            "error" => Self::Error {
                code: need(m.code)?,
                text: need(m.text)?,
            },
            _ => return Err(UnknownMessage),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{read_client_message, ClientMessage, ServerMessage, UnreadableMessage};
    use crate::vocab::{FeedbackReason, Vote};

    #[test]
    fn feedback_has_a_stable_wire_form_and_round_trips() {
        let down = ClientMessage::Feedback {
            in_reply_to: "m3".into(),
            vote: Vote::Down,
            reason: Some(FeedbackReason::WrongOrOutOfDate),
        };
        let json = serde_json::to_string(&down).unwrap();
        assert_eq!(
            json,
            r#"{"type":"feedback","in_reply_to":"m3","vote":"down","reason":"wrong_or_out_of_date"}"#
        );
        assert_eq!(read_client_message(json.as_bytes()), Ok(down));
        let up = ClientMessage::Feedback {
            in_reply_to: "m0".into(),
            vote: Vote::Up,
            reason: None,
        };
        let json = serde_json::to_string(&up).unwrap();
        assert_eq!(
            json,
            r#"{"type":"feedback","in_reply_to":"m0","vote":"up"}"#
        );
        assert_eq!(read_client_message(json.as_bytes()), Ok(up.clone()));
        assert_eq!(
            read_client_message(
                br#"{"type":"feedback","in_reply_to":"m0","vote":"up","reason":null}"#
            ),
            Ok(up)
        );
        for &reason in FeedbackReason::ALL {
            let message = ClientMessage::Feedback {
                in_reply_to: "m9".into(),
                vote: Vote::Down,
                reason: Some(reason),
            };
            let json = serde_json::to_vec(&message).unwrap();
            assert_eq!(read_client_message(&json), Ok(message));
        }
    }

    #[test]
    fn malformed_feedback_is_told_apart_from_what_is_no_message_at_all() {
        for bad in [
            r#"{"type":"feedback","in_reply_to":"m0","vote":"sideways"}"#,
            r#"{"type":"feedback","in_reply_to":"m0","vote":"UP"}"#,
            r#"{"type":"feedback","in_reply_to":"m0","vote":"down","reason":"too_long"}"#,
            r#"{"type":"feedback","in_reply_to":"m0","vote":1}"#,
            r#"{"type":"feedback","in_reply_to":7,"vote":"up"}"#,
            r#"{"type":"feedback","vote":"up"}"#,
            r#"{"type":"feedback","in_reply_to":"m0"}"#,
            r#"{"vote":"up","type":"feedback"}"#,
        ] {
            assert_eq!(
                read_client_message(bad.as_bytes()),
                Err(UnreadableMessage::Feedback),
                "{bad}"
            );
        }
        for bad in [
            r#"{"type":"Feedback","in_reply_to":"m0","vote":"up"}"#,
            r#"{"type":"vote"}"#,
            r#"{"in_reply_to":"m0","vote":"up"}"#,
            "[]",
            "not json",
        ] {
            assert_eq!(
                read_client_message(bad.as_bytes()),
                Err(UnreadableMessage::NotAMessage),
                "{bad}"
            );
        }
        // Every other client message still reads as before.
        assert_eq!(
            read_client_message(br#"{"type":"say","id":"m1","text":"hi"}"#),
            Ok(ClientMessage::Say {
                id: "m1".into(),
                text: "hi".into()
            })
        );
    }

    #[test]
    fn a_json_array_is_not_a_client_message() {
        // Found with the `client_message` fuzz target's invariant that a
        // message keeps its `type` tag: serde read `["say","m1","hi"]` as a
        // `say`, and `["feedback"]` as a malformed feedback.
        for array in [
            r#"["say","m1","hi"]"#,
            r#" ["end"]"#,
            r#"["feedback","m0","up"]"#,
            r#"["feedback"]"#,
        ] {
            assert_eq!(
                read_client_message(array.as_bytes()),
                Err(UnreadableMessage::NotAMessage),
                "{array}"
            );
        }
        assert_eq!(
            read_client_message(b" \r\n\t{\"type\":\"end\"}"),
            Ok(ClientMessage::End)
        );
    }

    fn parse(text: &str) -> Option<ServerMessage> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn every_variant_round_trips() {
        let messages = [
            ServerMessage::Sync {
                last_seq_received: None,
            },
            ServerMessage::Sync {
                last_seq_received: Some(41),
            },
            ServerMessage::Welcome {
                policy_version: "2024-05".into(),
                consent_required: true,
                disclaimer: "Not medical advice.\nCall 911.".into(),
                locale: "en".into(),
            },
            ServerMessage::Reply {
                in_reply_to: "m0".into(),
                text: "We open at 8 \"sharp\" \u{2600}".into(),
                intent: "faq.hours".into(),
                escalated: false,
            },
            ServerMessage::Notice {
                code: "consent_accepted".into(),
                text: "Thanks.".into(),
            },
            ServerMessage::Error {
                code: "consent_required".into(),
                text: "Please accept first.".into(),
            },
            ServerMessage::Card {
                in_reply_to: "m4".into(),
                kind: "slots".into(),
                title: "Free times".into(),
                items: vec![super::CardItem {
                    title: "Tue 2:30 PM".into(),
                    detail: "Dr. Patel".into(),
                    actions: vec![super::CardAction::choose("x1".into(), "Choose".into())],
                }],
                actions: Vec::new(),
                category: None,
            },
            ServerMessage::Card {
                in_reply_to: "m5".into(),
                kind: "emergency".into(),
                title: "Get help now".into(),
                items: Vec::new(),
                actions: vec![super::CardAction {
                    id: "call-988".into(),
                    label: "Call 988".into(),
                    href: Some("tel:988".into()),
                }],
                category: Some("self_harm".into()),
            },
            ServerMessage::Locale {
                locale: "es".into(),
                disclaimer: "No es consejo médico.".into(),
            },
            ServerMessage::Staff {
                id: "s1".into(),
                name: "Sam Rivera".into(),
                role: "nurse".into(),
                text: "Hi, I'm here.".into(),
            },
            ServerMessage::Typing {
                name: "Sam Rivera".into(),
            },
        ];
        for message in messages {
            let json = serde_json::to_string(&message).unwrap_or_default();
            assert_eq!(parse(&json), Some(message), "{json}");
        }
    }

    #[test]
    fn tolerates_extra_fields_and_refuses_incomplete_or_unknown_messages() {
        assert_eq!(
            parse(r#"{"type":"sync"}"#),
            Some(ServerMessage::Sync {
                last_seq_received: None
            })
        );
        assert_eq!(
            parse(r#"{"last_seq_received":3,"type":"sync","extra":[1,2]}"#),
            Some(ServerMessage::Sync {
                last_seq_received: Some(3)
            })
        );
        assert!(parse(r#"{"type":"notice","code":"x","text":"y","future_field":true}"#).is_some());
        for bad in [
            r#"{"type":"welcome","policy_version":"1","consent_required":true,"disclaimer":"d"}"#,
            r#"{"type":"reply","in_reply_to":"m0","text":"t","intent":"i"}"#,
            r#"{"type":"reply","in_reply_to":"m0","text":"t","intent":"i","escalated":"yes"}"#,
            r#"{"type":"typing"}"#,
            r#"{"type":"card","in_reply_to":"m0","kind":"slots","title":"t","items":[]}"#,
            r#"{"type":"card","in_reply_to":"m0","kind":"slots","title":"t","items":[{"title":"a"}],"actions":[]}"#,
            r#"{"type":"Sync"}"#,
            r#"{"type":"error","code":"c","code":"d","text":"t"}"#,
            r#"{"type":"sync","last_seq_received":-1}"#,
            r#"{"text":"no type"}"#,
            "[]",
            "not json",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
