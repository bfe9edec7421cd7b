//! The verification dialogue: date of birth and last name, then the
//! one-time code, then what the patient first asked for. [`crate::identity`]
//! owns the rules (codes, limits, decoys); this file owns what is said at
//! each step and how typed words move it on.
//!
//! Whatever the patient types while a step is open gets a clear next step,
//! never a fallback: details that cannot be read say what is missing; new
//! details while a code is awaited start again with them; anything else
//! while a code is awaited says how to go on ("type the code", "new code",
//! "cancel"), unless it is clearly another question, which is answered.
//! When the EHR could not be reached for the details, the step stays open
//! with them: "try again" ("intentar de nuevo", "otra vez") looks them up
//! again.
//!
//! What the patient reads after typing details never depends on whether
//! they matched anyone: "a code was sent to the phone number on file, if
//! these details match our records", with nothing of the number in it.

use carechat_language::intents::{Decision, UNKNOWN_INTENT};
use carechat_language::lang::Locale;

use protocol::vocab::Intent;

use super::answer::Answer;
use super::commands;
use super::state::{ChatState, Task, Waiting};
use super::{Conversation, Turn};
use crate::i18n::Arg;
use crate::identity::details::{self, Details, Missing};
use crate::identity::otp::OtpCode;
use crate::identity::{Checked, Started};

impl Conversation {
    /// Carries on a verification in progress; `None` lets the message be
    /// routed as a new question.
    pub(super) async fn continue_waiting(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        text: &str,
        understood: &Decision,
    ) -> Option<Answer> {
        let locale = state.locale;
        // A question the model is sure of, other than more of the same task,
        // is answered; the verification stays open.
        let other_question = matches!(understood, Decision::Intent { name, .. }
            if name != UNKNOWN_INTENT && Task::for_intent(name, "").is_none());
        match state.waiting.clone() {
            Waiting::Nothing => None,
            Waiting::Details { task, unreached } => {
                if commands::is_stop(text) {
                    state.waiting = Waiting::Nothing;
                    return Some(self.stopped(locale));
                }
                // "Try again" after the EHR could not be reached: the same
                // details are looked up again (with none kept, asked for).
                if commands::is_retry(text) {
                    return Some(match unreached {
                        Some(details) => self.start(turn, state, details, task).await,
                        None => self.ask_details(locale),
                    });
                }
                if !details::mentions_date(text) {
                    if other_question || matches!(understood, Decision::Intent { .. }) {
                        return None;
                    }
                    return Some(self.ask_missing(locale, Missing::BirthDate));
                }
                let details = match details::parse(text, self.identity.require_identifier) {
                    Ok(d) => d,
                    Err(missing) => return Some(self.ask_missing(locale, missing)),
                };
                Some(self.start(turn, state, details, task).await)
            }
            Waiting::Code { pending, task } => {
                if commands::is_stop(text) {
                    state.waiting = Waiting::Nothing;
                    return Some(self.stopped(locale));
                }
                if commands::is_resend(text) {
                    let now = self.clock.now();
                    return Some(match self.identity.resend(&turn.who, &pending, now).await {
                        Started::CodeSent(pending) => {
                            state.waiting = Waiting::Code { pending, task };
                            self.code_sent(locale)
                        }
                        other => self.not_started(state, other, Waiting::Code { pending, task }),
                    });
                }
                let Some(code) = OtpCode::parse(text) else {
                    // Details typed again (a correction): start over with them.
                    if details::mentions_date(text) {
                        state.waiting = Waiting::details(task);
                        return Box::pin(self.continue_waiting(turn, state, text, understood))
                            .await;
                    }
                    if other_question && !commands::is_retry(text) {
                        return None;
                    }
                    return Some(Answer::text(
                        Intent::IdentityCodeNeeded,
                        self.t(locale, "identity-code-needed", &[]),
                    ));
                };
                let now = self.clock.now();
                let checked = self.identity.check(&turn.who, &pending, &code, now).await;
                let mut answer = match checked {
                    Checked::Verified(patient) => {
                        state.waiting = Waiting::Nothing;
                        state.verified = Some(patient.clone());
                        let mut answer = self.run(turn, state, &patient, task).await;
                        answer.text = format!(
                            "{} {}",
                            self.t(
                                locale,
                                "identity-verified",
                                &[("name", Arg::from(patient.given_name.expose()))]
                            ),
                            answer.text
                        );
                        answer
                    }
                    Checked::Wrong { left } => Answer::text(
                        Intent::IdentityCodeWrong,
                        self.t(locale, "identity-code-wrong", &[("left", Arg::from(left))]),
                    ),
                    Checked::Spent => Answer::text(
                        Intent::IdentityCodeSpent,
                        self.t(locale, "identity-code-spent", &[]),
                    ),
                    Checked::Expired => Answer::text(
                        Intent::IdentityCodeExpired,
                        self.t(locale, "identity-code-expired", &[]),
                    ),
                    // Still waiting for a code: anything typed as one, the
                    // right code included, is refused while the lockout lasts.
                    Checked::Locked => self.locked(locale),
                    Checked::Unavailable => Answer::text(
                        Intent::IdentityUnavailable,
                        self.t(locale, "identity-code-unavailable", &[]),
                    ),
                };
                answer.was_code = true;
                Some(answer)
            }
        }
    }

    /// Looks `details` up and sends a code; the step stays open when that
    /// cannot be done now.
    async fn start(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        details: Details,
        task: Task,
    ) -> Answer {
        let now = self.clock.now();
        match self.identity.start(&turn.who, &details, now).await {
            Started::CodeSent(pending) => {
                state.waiting = Waiting::Code { pending, task };
                self.code_sent(state.locale)
            }
            Started::Unavailable => {
                let keep = Waiting::Details {
                    task,
                    unreached: Some(details),
                };
                self.not_started(state, Started::Unavailable, keep)
            }
            other => self.not_started(state, other, Waiting::details(task)),
        }
    }

    pub(super) fn ask_details(&self, locale: Locale) -> Answer {
        let key = if self.identity.require_identifier {
            "identity-details-needed-mrn"
        } else {
            "identity-details-needed"
        };
        Answer::text(Intent::IdentityDetailsNeeded, self.t(locale, key, &[]))
    }

    fn ask_missing(&self, locale: Locale, missing: Missing) -> Answer {
        let key = match missing {
            Missing::BirthDate => "identity-missing-birth-date",
            Missing::Family => "identity-missing-family",
            Missing::Identifier => "identity-missing-identifier",
        };
        Answer::text(Intent::IdentityDetailsUnclear, self.t(locale, key, &[]))
    }

    fn code_sent(&self, locale: Locale) -> Answer {
        let key = match self.identity.channel() {
            "email" => "identity-code-sent-email",
            _ => "identity-code-sent-sms",
        };
        Answer::text(
            Intent::IdentityCodeSent,
            self.t(
                locale,
                key,
                &[("minutes", Arg::from(self.identity.code_minutes()))],
            ),
        )
    }

    fn not_started(&self, state: &mut ChatState, started: Started, keep: Waiting) -> Answer {
        let locale = state.locale;
        match started {
            Started::CodeSent(_) => Answer::text(Intent::IdentityCodeSent, String::new()),
            Started::Locked => {
                state.waiting = Waiting::Nothing;
                self.locked(locale)
            }
            Started::TooSoon { seconds } => {
                state.waiting = keep;
                Answer::text(
                    Intent::IdentityResendWait,
                    self.t(
                        locale,
                        "identity-resend-wait",
                        &[("seconds", Arg::from(seconds))],
                    ),
                )
            }
            Started::Unavailable => {
                state.waiting = keep;
                Answer::text(
                    Intent::IdentityUnavailable,
                    self.t(locale, "identity-unavailable", &[]),
                )
            }
            // Nothing was sent; a code already on its way still works.
            Started::Limited => {
                state.waiting = keep;
                Answer::text(
                    Intent::IdentityLimited,
                    self.t(locale, "identity-limited", &[]),
                )
            }
        }
    }

    fn locked(&self, locale: Locale) -> Answer {
        Answer::text(
            Intent::IdentityLocked,
            self.t(locale, "identity-locked", &[]),
        )
    }

    fn stopped(&self, locale: Locale) -> Answer {
        Answer::text(
            Intent::IdentityCancelled,
            self.t(locale, "identity-cancelled", &[]),
        )
    }
}
