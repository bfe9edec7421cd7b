//! One answer under construction (the reply's text and intent, then an
//! optional card) and how it becomes protocol messages.

use protocol::vocab::{CardKind, ErrorCode, Intent, NoticeCode};
use protocol::{CardAction, CardItem, ServerMessage};

/// A card that follows a reply.
pub(super) struct Card {
    pub kind: CardKind,
    pub title: String,
    pub items: Vec<CardItem>,
    pub actions: Vec<CardAction>,
    pub category: Option<String>,
}

/// A reply under construction: the text, then an optional card.
pub(super) struct Answer {
    pub intent: String,
    pub text: String,
    pub escalated: bool,
    /// The patient's message was a one-time code: the transcript keeps a
    /// placeholder, never the digits (codes are stored only as hashes).
    pub was_code: bool,
    pub card: Option<Card>,
    /// Notices that follow the reply and its card (the chat was queued for
    /// a person).
    pub after: Vec<ServerMessage>,
}

impl Answer {
    pub(super) fn text(intent: Intent, text: String) -> Self {
        Self::named(intent.as_str(), text)
    }

    /// A reply under a clinic FAQ intent (`faq.*`), or any intent by name.
    pub(super) fn named(intent: &str, text: String) -> Self {
        Self {
            intent: intent.to_owned(),
            text,
            escalated: false,
            was_code: false,
            card: None,
            after: Vec::new(),
        }
    }

    pub(super) fn card(
        mut self,
        kind: CardKind,
        title: impl Into<String>,
        items: Vec<CardItem>,
        actions: Vec<CardAction>,
    ) -> Self {
        self.card = Some(Card {
            kind,
            title: title.into(),
            items,
            actions,
            category: None,
        });
        self
    }

    /// The reply, then its card, answering `id`.
    pub(super) fn into_messages(self, id: &str) -> Vec<ServerMessage> {
        let mut replies = vec![ServerMessage::Reply {
            in_reply_to: id.to_owned(),
            text: self.text,
            intent: self.intent,
            escalated: self.escalated,
        }];
        if let Some(card) = self.card {
            replies.push(ServerMessage::Card {
                in_reply_to: id.to_owned(),
                kind: card.kind.as_str().to_owned(),
                title: card.title,
                items: card.items,
                actions: card.actions,
                category: card.category,
            });
        }
        replies.extend(self.after);
        replies
    }
}

pub(super) fn notice(code: NoticeCode, text: String) -> ServerMessage {
    ServerMessage::Notice {
        code: code.as_str().to_owned(),
        text,
    }
}

pub(super) fn error(code: ErrorCode, text: String) -> ServerMessage {
    ServerMessage::Error {
        code: code.as_str().to_owned(),
        text,
    }
}
