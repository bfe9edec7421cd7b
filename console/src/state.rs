//! The reactive state the console's screens render, and the actions that
//! change it through [`crate::calls`]. Every failed call goes through
//! [`ConsoleState::refused`]: a [`Refusal::SignedOut`] anywhere ends the
//! local session and brings back the sign-in screen with its notice.
//!
//! Message text lives only in these signals, in memory: nothing is logged,
//! stored in the browser or put in a URL.

use std::collections::HashSet;

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnError;
use leptos::task::spawn_local;

use crate::api::{Event, Line, Me, QueueEntry, Reason, Refusal, Speaker};
use crate::{alerts, calls, texts};

/// How long "Patient is typing…" stays up after the last typing signal.
const TYPING_SHOWN_MS: u64 = 6000;

/// Why the sign-in screen is shown to someone who was signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A call found the session ended (15 minutes idle, or its age).
    Expired,
    /// They pressed "Sign out".
    SignedOut,
}

/// The console's state: small `Copy` handles to signals, in context.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleState {
    /// Whether the first `me()` call has answered.
    pub ready: RwSignal<bool>,
    /// Who is signed in.
    pub me: RwSignal<Option<Me>>,
    /// Why the sign-in screen is back, if it is.
    pub notice: RwSignal<Option<Notice>>,
    /// The queue, crisis entries first.
    pub queue: RwSignal<Vec<QueueEntry>>,
    /// When the queue was fetched (ms since the epoch, browser clock).
    pub queue_at: RwSignal<f64>,
    /// Now, every few seconds (ms since the epoch), for waiting times.
    pub now: RwSignal<f64>,
    /// Why the queue could not be fetched, if it could not.
    pub queue_error: RwSignal<Option<Refusal>>,
    /// The conversation open on the right, by handoff id.
    pub open: RwSignal<Option<String>>,
    /// The open conversation's queue entry, once loaded.
    pub entry: RwSignal<Option<QueueEntry>>,
    /// The open conversation's lines, oldest first.
    pub lines: RwSignal<Vec<Line>>,
    /// Whether this staff member owns the open conversation.
    pub mine: RwSignal<bool>,
    /// Whether the patient of the open conversation is typing.
    pub patient_typing: RwSignal<bool>,
    /// Why the last action on the open conversation failed.
    pub chat_error: RwSignal<Option<Refusal>>,
    /// Whether a new crisis beeps.
    pub sound: RwSignal<bool>,
    /// A polite announcement for screen readers (`role="status"`).
    pub status: RwSignal<String>,
    /// An urgent announcement (`role="alert"`): a new crisis.
    pub alert: RwSignal<String>,
    /// Crisis entries already seen, so only new ones beep.
    seen_crises: StoredValue<Option<HashSet<String>>>,
    /// Which typing signal is the latest (older timers do nothing).
    typing_token: StoredValue<u64>,
}

impl Default for ConsoleState {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleState {
    /// A console nobody is signed in to yet.
    pub fn new() -> Self {
        Self {
            ready: RwSignal::new(false),
            me: RwSignal::new(None),
            notice: RwSignal::new(None),
            queue: RwSignal::new(Vec::new()),
            queue_at: RwSignal::new(0.0),
            now: RwSignal::new(0.0),
            queue_error: RwSignal::new(None),
            open: RwSignal::new(None),
            entry: RwSignal::new(None),
            lines: RwSignal::new(Vec::new()),
            mine: RwSignal::new(false),
            patient_typing: RwSignal::new(false),
            chat_error: RwSignal::new(None),
            sound: RwSignal::new(false),
            status: RwSignal::new(String::new()),
            alert: RwSignal::new(String::new()),
            seen_crises: StoredValue::new(None),
            typing_token: StoredValue::new(0),
        }
    }

    /// The CSRF token of the session, empty when signed out.
    pub fn csrf(&self) -> String {
        self.me
            .with_untracked(|me| me.as_ref().map(|me| me.csrf.clone()))
            .unwrap_or_default()
    }

    /// Whether the signed-in role works the queue.
    pub fn works_queue(&self) -> bool {
        self.me
            .with(|me| me.as_ref().is_some_and(|me| texts::works_queue(me.role)))
    }

    /// What a failed call means; a signed-out session ends here.
    pub fn refused(&self, error: &ServerFnError) -> Refusal {
        let refusal = calls::refusal_of(error);
        if refusal == Refusal::SignedOut && self.me.with_untracked(Option::is_some) {
            self.signed_out(Some(Notice::Expired));
        }
        refusal
    }

    /// What a failed admin call means, as the admin page shows it; a
    /// signed-out session ends here as for every other call.
    pub fn admin_failed(&self, error: &ServerFnError) -> String {
        self.refused(error);
        texts::admin_error_text(&calls::admin::admin_error_of(error))
    }

    /// Someone signed in (or was already, on load).
    pub fn signed_in(&self, me: Me) {
        self.notice.set(None);
        self.me.set(Some(me));
        self.ready.set(true);
    }

    /// Forgets everything the session showed.
    pub fn signed_out(&self, notice: Option<Notice>) {
        self.me.set(None);
        self.notice.set(notice);
        self.queue.set(Vec::new());
        self.queue_error.set(None);
        self.close_chat();
        self.seen_crises.set_value(None);
        self.status.set(String::new());
        self.alert.set(String::new());
        self.ready.set(true);
    }

    /// Asks who is signed in, once, on load.
    pub fn check_session(self) {
        spawn_local(async move {
            match calls::me().await {
                Ok(me) => self.signed_in(me),
                Err(_) => self.signed_out(None),
            }
        });
    }

    /// Fetches the queue again.
    pub fn refresh_queue(self) {
        if !self.works_queue_untracked() {
            return;
        }
        spawn_local(async move {
            match calls::queue().await {
                Ok(entries) => {
                    self.queue_error.set(None);
                    self.set_queue(entries);
                }
                Err(error) => {
                    let refusal = self.refused(&error);
                    if refusal != Refusal::SignedOut {
                        self.queue_error.set(Some(refusal));
                    }
                }
            }
        });
    }

    fn works_queue_untracked(&self) -> bool {
        self.me
            .with_untracked(|me| me.as_ref().is_some_and(|me| texts::works_queue(me.role)))
    }

    /// Shows a fetched queue (crisis entries first, the server's order
    /// otherwise) and beeps if a crisis is new.
    fn set_queue(&self, mut entries: Vec<QueueEntry>) {
        entries.sort_by_key(|entry| !is_crisis(entry));
        let crises: HashSet<String> = entries
            .iter()
            .filter(|entry| is_crisis(entry) && entry.owner.is_none())
            .map(|entry| entry.id.clone())
            .collect();
        let new_crisis = self.seen_crises.with_value(|seen| {
            seen.as_ref()
                .is_some_and(|seen| crises.iter().any(|id| !seen.contains(id)))
        });
        self.seen_crises.update_value(|seen| {
            let seen = seen.get_or_insert_with(HashSet::new);
            seen.extend(crises.iter().cloned());
        });
        if new_crisis {
            self.alert
                .set("A new crisis conversation is waiting.".into());
            if self.sound.get_untracked() {
                alerts::beep();
            }
        }
        self.queue_at.set(alerts::now_ms());
        self.now.set(alerts::now_ms());
        self.queue.set(entries);
    }
}

/// Whether an entry is a crisis.
pub fn is_crisis(entry: &QueueEntry) -> bool {
    matches!(entry.reason, Reason::Crisis { .. })
}

/// The open conversation and what staff do with it.
impl ConsoleState {
    /// Opens a conversation: what was said so far, and whose it is.
    pub fn open_chat(self, id: String) {
        self.close_chat();
        self.open.set(Some(id));
        self.reload_chat();
    }

    /// Fetches the open conversation again (after a reconnect, when lines
    /// may have been missed).
    pub fn reload_chat(self) {
        let Some(id) = self.open.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let result = calls::conversation(id.clone()).await;
            if self.open.get_untracked().as_deref() != Some(id.as_str()) {
                return;
            }
            match result {
                Ok(conversation) => {
                    let me = self
                        .me
                        .with_untracked(|me| me.as_ref().map(|me| me.name.clone()));
                    self.mine
                        .set(me.is_some() && conversation.entry.owner == me);
                    self.entry.set(Some(conversation.entry));
                    self.lines.set(conversation.lines);
                    self.chat_error.set(None);
                }
                Err(error) => self.chat_failed(&error),
            }
        });
    }

    /// Closes the conversation panel (the conversation itself carries on).
    pub fn close_chat(&self) {
        self.open.set(None);
        self.entry.set(None);
        self.lines.set(Vec::new());
        self.mine.set(false);
        self.patient_typing.set(false);
        self.chat_error.set(None);
    }

    /// Shows why an action failed; a conversation that is gone leaves the
    /// queue too.
    pub fn chat_failed(&self, error: &ServerFnError) {
        let refusal = self.refused(error);
        if refusal == Refusal::SignedOut {
            return;
        }
        self.chat_error.set(Some(refusal));
        if matches!(refusal, Refusal::Gone | Refusal::Taken) {
            self.refresh_queue();
        }
    }

    /// Takes the open conversation over from the assistant.
    pub fn pick_up(self) {
        let Some(id) = self.open.get_untracked() else {
            return;
        };
        let csrf = self.csrf();
        spawn_local(async move {
            match calls::pick_up(csrf, id).await {
                Ok(()) => {
                    let me = self
                        .me
                        .with_untracked(|me| me.as_ref().map(|me| me.name.clone()));
                    self.entry.update(|entry| {
                        if let Some(entry) = entry {
                            entry.owner = me;
                        }
                    });
                    self.mine.set(true);
                    self.chat_error.set(None);
                    self.status
                        .set("You picked up this conversation. The assistant is quiet.".into());
                    self.refresh_queue();
                }
                Err(error) => self.chat_failed(&error),
            }
        });
    }

    /// Hands the open conversation back to the assistant, or closes it.
    pub fn finish(self, close: bool) {
        let Some(id) = self.open.get_untracked() else {
            return;
        };
        let csrf = self.csrf();
        spawn_local(async move {
            let result = if close {
                calls::close(csrf, id).await
            } else {
                calls::hand_back(csrf, id).await
            };
            match result {
                Ok(()) => {
                    self.close_chat();
                    self.status.set(if close {
                        "Conversation closed.".into()
                    } else {
                        "Handed back to the assistant.".into()
                    });
                    self.refresh_queue();
                }
                Err(error) => self.chat_failed(&error),
            }
        });
    }

    /// One event from the realtime channel.
    pub fn on_event(self, event: Event) {
        match event {
            Event::QueueChanged => self.refresh_queue(),
            Event::Line { id, line } => {
                if self.open.get_untracked().as_deref() == Some(id.as_str()) {
                    if line.speaker == Speaker::Patient {
                        self.patient_typing.set(false);
                    }
                    self.lines.update(|lines| lines.push(line));
                }
            }
            Event::PatientTyping { id } => {
                if self.open.get_untracked().as_deref() == Some(id.as_str()) {
                    self.patient_typing.set(true);
                    self.typing_token.update_value(|token| *token += 1);
                    let token = self.typing_token.get_value();
                    set_timeout(
                        move || {
                            if self.typing_token.try_get_value() == Some(token) {
                                self.patient_typing.set(false);
                            }
                        },
                        std::time::Duration::from_millis(TYPING_SHOWN_MS),
                    );
                }
            }
        }
    }
}
