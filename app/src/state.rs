//! The reactive state the screens render, written by [`crate::connection`]
//! (from what the server sends) and by [`crate::components::app`] (from the
//! host page's open/close events).
//!
//! Everything here is plain signals and copyable, so every component can
//! take it from context. It holds what the patient sees, nothing secret:
//! the session keys live only in the connection module.

use leptos::prelude::*;
use protocol::{CardAction, CardItem};

use crate::i18n::{I18n, Locale, StringTable};

/// Which screen is showing; also the `data-state` of `#carechat-root`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Handshake and first connection in progress.
    Connecting,
    /// The server's disclaimer, waiting for Accept or Decline.
    Consent,
    /// The conversation.
    Chat,
    /// The patient declined; the server's answer is shown.
    Declined,
    /// The patient ended the chat; everything was cleared.
    Ended,
    /// The handshake was not signed by the pinned identity key.
    IdentityFailed,
    /// The chat cannot start (bad embed page, or the server refused us).
    Error,
}

impl Screen {
    /// The `data-state` value (a stable selector for end-to-end tests).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Consent => "consent",
            Self::Chat => "chat",
            Self::Declined => "declined",
            Self::Ended => "ended",
            Self::IdentityFailed => "identity-failed",
            Self::Error => "error",
        }
    }

    /// Whether a session exists (or is being made) that "End chat" can end.
    #[must_use]
    pub fn has_session(self) -> bool {
        matches!(
            self,
            Self::Connecting | Self::Consent | Self::Chat | Self::Declined
        )
    }
}

/// Why the chat stopped; picks the words on the failure screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The embed page has no identity key to pin.
    MissingIdentityKey,
    /// The embed page's identity key is not a valid P-256 point.
    InvalidIdentityKey,
    /// The server's handshake did not verify against the pinned key.
    IdentityNotVerified,
    /// The server refused our handshake (HTTP 400) or the browser refused
    /// to open the WebSocket: trying again may help.
    Refused,
}

impl Failure {
    /// Whether a "Try again" button makes sense. Never for identity or
    /// configuration problems: retrying cannot fix them and the patient must
    /// not be nudged towards an unverified server.
    #[must_use]
    pub fn retryable(self) -> bool {
        matches!(self, Self::Refused)
    }
}

/// The state of the WebSocket, for the "Reconnecting…" banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// No session, or the first connection of one is being made.
    Idle,
    /// Connected and synchronised.
    Online,
    /// The connection dropped; the widget is reconnecting with backoff.
    Reconnecting,
}

/// Where a patient message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sealed and sent (or queued while offline); no reply yet.
    Sending,
    /// The clinic's reply arrived.
    Answered,
    /// It will not be answered: the session ended, or the server reported
    /// an error before replying.
    Failed,
}

impl Delivery {
    /// The `data-status` value of the patient's bubble.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Answered => "answered",
            Self::Failed => "failed",
        }
    }
}

/// How a notice should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A status line.
    Info,
    /// A change of who is in the chat (a person from the clinic joined):
    /// a quieter line across the transcript.
    Status,
    /// Something went wrong.
    Error,
}

/// What one transcript line says.
#[derive(Debug, Clone)]
pub enum EntryKind {
    /// Something the patient sent.
    Patient {
        /// The text as sent.
        text: String,
        /// Updated when the reply (or an error) arrives.
        status: ArcRwSignal<Delivery>,
    },
    /// A reply from the clinic's assistant or staff.
    Clinic {
        /// The text.
        text: String,
        /// The server's intent name (`data-intent`).
        intent: String,
        /// Emergency guidance or a staff handoff: shown distinctly and
        /// announced assertively.
        escalated: bool,
        /// The id to send `feedback` about, for a reply that takes it (see
        /// [`crate::feedback::target`]); `None` shows no thumbs.
        feedback: Option<String>,
    },
    /// A message from a person at the clinic who owns the chat.
    Staff {
        /// Their display name, e.g. "Sam Rivera".
        name: String,
        /// Their role on the wire (`front_desk`, `nurse`); shown by its
        /// catalog label `staff-role-{role}`, or not at all if it has none.
        role: String,
        /// The message.
        text: String,
    },
    /// Structured content from the server: appointments, free slots, a
    /// confirmation, emergency numbers. Its buttons send `choose`, or open
    /// a `tel:`/`sms:` link.
    Card {
        /// `appointments`, `slots`, `confirm`, `booked`, `emergency`, ...
        kind: String,
        /// On `emergency` cards, what the safety screen found
        /// (`self_harm`, `poisoning`, ...).
        category: Option<String>,
        /// The heading.
        title: String,
        /// The lines, with their buttons.
        items: Vec<CardItem>,
        /// Buttons for the whole card.
        actions: Vec<CardAction>,
    },
    /// A status line from the server.
    Notice {
        /// The words.
        text: String,
        /// Info or error.
        tone: Tone,
    },
    /// A status line of the widget's own, shown in the current language.
    Local {
        /// Its key in the catalog (see [`crate::i18n`]).
        key: &'static str,
    },
}

/// One transcript line.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Unique within this page's life; the key for keyed rendering.
    pub key: u64,
    /// Which session the line belongs to (see [`ChatState::session_epoch`]).
    pub epoch: u32,
    /// What it says.
    pub kind: EntryKind,
}

/// All UI state, as copyable signals.
#[derive(Debug, Clone, Copy)]
pub struct ChatState {
    /// The screen showing.
    pub screen: RwSignal<Screen>,
    /// Why the chat stopped, on the failure screens.
    pub failure: RwSignal<Option<Failure>>,
    /// True while the handshake keeps failing for network reasons.
    pub connect_trouble: RwSignal<bool>,
    /// The words, and the language shown (`i18n.locale`), which is also
    /// the one the widget asks the server to chat in.
    pub i18n: I18n,
    /// The server's disclaimer from `welcome` (or from `locale`, in the
    /// language just chosen).
    pub disclaimer: RwSignal<Option<String>>,
    /// True between the patient's consent answer and the server's notice.
    pub consent_sent: RwSignal<bool>,
    /// The server's answer to a declined consent (carries the clinic's phone).
    pub declined_text: RwSignal<Option<String>>,
    /// A previous session just ended ("Your previous chat session
    /// ended…"): said on the consent screen until the next consent.
    pub session_replaced: RwSignal<bool>,
    /// A message sent from the consent screen was refused until the patient
    /// accepts: the consent screen says so in one line.
    pub consent_hint: RwSignal<bool>,
    /// What the patient is typing (the message box lives as long as the
    /// page; this is cleared with the conversation).
    pub draft: RwSignal<String>,
    /// The transcript, oldest first.
    pub transcript: RwSignal<Vec<Entry>>,
    /// Bumped when a session is replaced; lines with a lower epoch belong to
    /// a session that has ended and are shown as such.
    pub session_epoch: RwSignal<u32>,
    /// The WebSocket's state.
    pub link: RwSignal<LinkStatus>,
    /// Whether the host page shows the iframe (it says so by postMessage).
    pub open: RwSignal<bool>,
    /// Replies that arrived while the iframe was closed.
    pub unread: RwSignal<u32>,
    /// The name of the person from the clinic who is typing now, for a few
    /// seconds after the server's `typing`.
    pub staff_typing: RwSignal<Option<String>>,
    next_key: StoredValue<u64>,
}

impl ChatState {
    /// The state at start-up: connecting, open (the iframe is created when
    /// the patient opens the chat), empty transcript, in `locale`.
    #[must_use]
    pub fn new(locale: Locale, strings: &'static dyn StringTable) -> Self {
        Self {
            screen: RwSignal::new(Screen::Connecting),
            failure: RwSignal::new(None),
            connect_trouble: RwSignal::new(false),
            i18n: I18n::new(RwSignal::new(locale), strings),
            disclaimer: RwSignal::new(None),
            consent_sent: RwSignal::new(false),
            declined_text: RwSignal::new(None),
            session_replaced: RwSignal::new(false),
            consent_hint: RwSignal::new(false),
            draft: RwSignal::new(String::new()),
            transcript: RwSignal::new(Vec::new()),
            session_epoch: RwSignal::new(0),
            link: RwSignal::new(LinkStatus::Idle),
            open: RwSignal::new(true),
            unread: RwSignal::new(0),
            staff_typing: RwSignal::new(None),
            next_key: StoredValue::new(0),
        }
    }

    /// Stops the chat on a failure screen.
    pub fn fail(&self, failure: Failure) {
        self.failure.set(Some(failure));
        self.link.set(LinkStatus::Idle);
        self.screen.set(match failure {
            Failure::IdentityNotVerified => Screen::IdentityFailed,
            _ => Screen::Error,
        });
    }

    fn push(&self, kind: EntryKind) {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        let epoch = self.session_epoch.get_untracked();
        self.transcript
            .update(|lines| lines.push(Entry { key, epoch, kind }));
    }

    /// Adds the patient's message; the returned signal tracks its delivery.
    pub fn push_patient(&self, text: String) -> ArcRwSignal<Delivery> {
        let status = ArcRwSignal::new(Delivery::Sending);
        self.push(EntryKind::Patient {
            text,
            status: status.clone(),
        });
        status
    }

    /// Adds a clinic reply; `feedback` as in [`EntryKind::Clinic`].
    pub fn push_clinic(
        &self,
        text: String,
        intent: String,
        escalated: bool,
        feedback: Option<String>,
    ) {
        self.push(EntryKind::Clinic {
            text,
            intent,
            escalated,
            feedback,
        });
    }

    /// Adds a message from a person at the clinic.
    pub fn push_staff(&self, name: String, role: String, text: String) {
        self.push(EntryKind::Staff { name, role, text });
        if !self.open.get_untracked() {
            self.unread.update(|n| *n = n.saturating_add(1));
        }
    }

    /// Adds a card.
    pub fn push_card(
        &self,
        kind: String,
        category: Option<String>,
        title: String,
        items: Vec<CardItem>,
        actions: Vec<CardAction>,
    ) {
        self.push(EntryKind::Card {
            kind,
            category,
            title,
            items,
            actions,
        });
        if !self.open.get_untracked() {
            self.unread.update(|n| *n = n.saturating_add(1));
        }
    }

    /// Adds a notice line.
    pub fn push_notice(&self, text: String, tone: Tone) {
        self.push(EntryKind::Notice { text, tone });
    }

    /// Adds a notice of the widget's own, by catalog key.
    pub fn push_local(&self, key: &'static str) {
        self.push(EntryKind::Local { key });
    }

    /// Whether a patient message of the current session awaits its reply.
    /// Reactive: tracks the transcript and each message's status.
    #[must_use]
    pub fn awaiting_reply(&self) -> bool {
        let epoch = self.session_epoch.get();
        self.transcript.with(|lines| {
            lines.iter().any(|line| match &line.kind {
                EntryKind::Patient { status, .. } => {
                    line.epoch == epoch && status.get() == Delivery::Sending
                }
                _ => false,
            })
        })
    }

    /// Forgets the conversation (End chat).
    pub fn clear_conversation(&self) {
        self.transcript.set(Vec::new());
        self.draft.set(String::new());
        self.disclaimer.set(None);
        self.declined_text.set(None);
        self.session_replaced.set(false);
        self.consent_hint.set(false);
        self.consent_sent.set(false);
        self.unread.set(0);
        self.staff_typing.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_STRINGS: crate::i18n::Strings = crate::i18n::Strings::EMPTY;

    #[test]
    fn data_state_values_are_the_documented_selectors() {
        let all = [
            (Screen::Connecting, "connecting"),
            (Screen::Consent, "consent"),
            (Screen::Chat, "chat"),
            (Screen::Declined, "declined"),
            (Screen::Ended, "ended"),
            (Screen::IdentityFailed, "identity-failed"),
            (Screen::Error, "error"),
        ];
        for (screen, state) in all {
            assert_eq!(screen.as_str(), state);
        }
    }

    #[test]
    fn identity_failures_stop_for_good_and_only_refusals_offer_a_retry() {
        let ui = ChatState::new(Locale::En, &NO_STRINGS);
        ui.fail(Failure::IdentityNotVerified);
        assert_eq!(ui.screen.get_untracked(), Screen::IdentityFailed);
        ui.fail(Failure::MissingIdentityKey);
        assert_eq!(ui.screen.get_untracked(), Screen::Error);
        assert!(!Failure::IdentityNotVerified.retryable());
        assert!(!Failure::InvalidIdentityKey.retryable());
        assert!(Failure::Refused.retryable());
    }

    #[test]
    fn a_reply_is_awaited_until_the_message_is_answered_or_fails() {
        let ui = ChatState::new(Locale::En, &NO_STRINGS);
        assert!(!ui.awaiting_reply());
        let first = ui.push_patient("hello".into());
        ui.push_clinic("hi".into(), "faq.greeting".into(), false, None);
        assert!(ui.awaiting_reply());
        first.set(Delivery::Answered);
        assert!(!ui.awaiting_reply());
        let second = ui.push_patient("again".into());
        assert!(ui.awaiting_reply());
        second.set(Delivery::Failed);
        assert!(!ui.awaiting_reply());
        // A message from a session that has ended never blocks the new one.
        let _stale = ui.push_patient("lost".into());
        ui.session_epoch.update(|e| *e += 1);
        assert!(!ui.awaiting_reply());
        ui.clear_conversation();
        assert!(ui.transcript.with_untracked(Vec::is_empty));
    }

    #[test]
    fn a_reply_keeps_the_id_its_feedback_is_about() {
        let ui = ChatState::new(Locale::En, &NO_STRINGS);
        ui.push_clinic(
            "We open at 8".into(),
            "faq.hours".into(),
            false,
            Some("m2".into()),
        );
        assert!(ui.transcript.with_untracked(|lines| matches!(
            &lines[0].kind,
            EntryKind::Clinic { feedback: Some(id), .. } if id == "m2"
        )));
    }

    #[test]
    fn staff_messages_count_as_unread_and_end_chat_forgets_who_was_typing() {
        let ui = ChatState::new(Locale::En, &NO_STRINGS);
        ui.push_staff("Sam Rivera".into(), "nurse".into(), "Hi".into());
        assert_eq!(ui.unread.get_untracked(), 0);
        ui.open.set(false);
        ui.push_staff("Sam Rivera".into(), "nurse".into(), "Still there?".into());
        assert_eq!(ui.unread.get_untracked(), 1);
        assert!(ui.transcript.with_untracked(|lines| matches!(
            &lines[1].kind,
            EntryKind::Staff { name, role, .. } if name == "Sam Rivera" && role == "nurse"
        )));
        ui.staff_typing.set(Some("Sam Rivera".into()));
        ui.clear_conversation();
        assert_eq!(ui.staff_typing.get_untracked(), None);
        assert_eq!(ui.unread.get_untracked(), 0);
    }
}
