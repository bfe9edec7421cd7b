//! Clinic settings an admin changes in the console, in force at once
//! without a restart: the staffed hours, the FAQ entries' answers and
//! example questions, and the canned responses front desk and nurses insert
//! into a chat.
//!
//! - [`Live`]: what the conversation reads on every message (the staffed
//!   hours, and the [`Brain`]: the knowledge base with the intent model
//!   trained from it). A new brain is built aside and swapped in whole, so
//!   a message is always answered by one consistent knowledge base and
//!   model; messages already being answered keep the one they started with.
//! - [`Settings`]: validates each change with a message that says what to
//!   fix, records its audit event (which setting and which of its parts
//!   changed, never the words), stores it in the database and swaps it in.
//!   The configuration file's values stay the defaults; stored values
//!   override them, at start-up too ([`Settings::open`]).
//!
//! Retraining the intent model after an example question changes takes
//! about two seconds for the demo FAQ in a debug build (less in release);
//! it runs on a blocking thread ([`tokio::task::spawn_blocking`]) so it
//! never stalls the runtime, and the admin's call returns once the new
//! model answers. An edit of answers alone swaps the texts in without
//! retraining.
//!
//! One server process holds the live copy: servers sharing a PostgreSQL
//! database see another's change after a restart.
//!
//! It does not own who may change settings (the console's backend checks
//! the admin role) nor how a patient's message is matched
//! ([`carechat_language::intents`]).

use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use carechat_language::intents::{IntentModel, TrainingError, TrainingSet};
use carechat_language::knowledge::{FaqEntry, KnowledgeBase, Translation};
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, AuditAction, AuditEvent, AuditLog, AuditOutcome};
use crate::clock::Clock;
use crate::handoff::hours::{Range, StaffedHours, DAY_NAMES};
pub use crate::store::settings::StoredCannedResponse as CannedResponse;
use crate::store::{Store, StoreError};

/// The setting that holds the staffed hours.
pub const STAFFED_HOURS: &str = "staffed_hours";
/// Longest canned response title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// Longest canned response text, in characters (a staff message's limit).
pub const MAX_CANNED_CHARS: usize = crate::console::MAX_STAFF_MESSAGE_CHARS;
/// Most canned responses a clinic keeps.
pub const MAX_CANNED_RESPONSES: usize = 200;
/// Longest FAQ answer, in characters.
pub const MAX_ANSWER_CHARS: usize = 1500;
/// Longest example question, in characters.
pub const MAX_EXAMPLE_CHARS: usize = 200;
/// Most example questions per language in one FAQ entry.
pub const MAX_EXAMPLES: usize = 100;

/// The weekdays' names, Monday first, for messages.
const DAY_LABELS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// What the assistant understands and answers from: the knowledge base
/// and the intent model trained from it, always swapped together.
#[derive(Debug)]
pub struct Brain {
    /// The FAQ entries in force.
    pub knowledge: KnowledgeBase,
    /// The model trained from them and the built-in intents.
    pub model: Arc<IntentModel>,
}

impl Brain {
    /// Trains a model for `knowledge` (CPU-bound: call it off the runtime).
    ///
    /// # Errors
    /// When the built-in intents file does not load (a test guards it).
    pub fn train(knowledge: KnowledgeBase) -> Result<Self, TrainingError> {
        let model = IntentModel::train(&TrainingSet::for_clinic(&knowledge)?);
        Ok(Self {
            knowledge,
            model: Arc::new(model),
        })
    }
}

/// The settings the conversation reads on every message.
#[derive(Debug)]
pub struct Live {
    hours: RwLock<StaffedHours>,
    brain: RwLock<Arc<Brain>>,
    /// The knowledge file as configured: stored edits apply to its entries.
    defaults: KnowledgeBase,
    /// One change at a time, so two edits cannot each retrain from a
    /// stale copy and lose the other's change.
    writing: tokio::sync::Mutex<()>,
}

impl Live {
    /// The configuration's hours and knowledge, with a model trained for it.
    ///
    /// # Errors
    /// As [`Brain::train`].
    pub fn train(hours: StaffedHours, knowledge: KnowledgeBase) -> Result<Self, TrainingError> {
        Ok(Self {
            hours: RwLock::new(hours),
            defaults: knowledge.clone(),
            brain: RwLock::new(Arc::new(Brain::train(knowledge)?)),
            writing: tokio::sync::Mutex::new(()),
        })
    }

    /// The staffed hours in force.
    #[must_use]
    pub fn staffed_hours(&self) -> StaffedHours {
        self.hours
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The knowledge base and model in force; hold it for one message.
    #[must_use]
    pub fn brain(&self) -> Arc<Brain> {
        self.brain
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_staffed_hours(&self, hours: StaffedHours) {
        *self.hours.write().unwrap_or_else(PoisonError::into_inner) = hours;
    }

    fn set_brain(&self, brain: Brain) {
        *self.brain.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(brain);
    }
}

/// One day's hours as an admin types them: both empty for closed, or
/// `"HH:MM"` (24-hour) each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayInput {
    /// Opening time.
    pub opens: String,
    /// Closing time.
    pub closes: String,
}

/// An FAQ entry's words as an admin edits them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqEdit {
    /// The entry, by intent (`faq.hours`); intents come from the knowledge
    /// file and are not renamed here.
    pub intent: String,
    /// The English answer.
    pub answer: String,
    /// English example questions.
    pub examples: Vec<String>,
    /// The Spanish answer; empty for none (Spanish questions then get the
    /// English answer).
    pub answer_es: String,
    /// Spanish example questions.
    pub examples_es: Vec<String>,
}

impl FaqEdit {
    fn of(entry: &FaqEntry) -> Self {
        Self {
            intent: entry.intent.clone(),
            answer: entry.answer.clone(),
            examples: entry.examples.clone(),
            answer_es: entry
                .es
                .as_ref()
                .map(|t| t.answer.clone())
                .unwrap_or_default(),
            examples_es: entry
                .es
                .as_ref()
                .map(|t| t.examples.clone())
                .unwrap_or_default(),
        }
    }

    /// Applies the edit to `entry` (keywords stay as the file has them).
    fn apply(&self, entry: &mut FaqEntry) {
        entry.answer.clone_from(&self.answer);
        entry.examples.clone_from(&self.examples);
        entry.es = if self.answer_es.is_empty() && self.examples_es.is_empty() {
            None
        } else {
            Some(Translation {
                answer: self.answer_es.clone(),
                examples: self.examples_es.clone(),
            })
        };
    }

    /// Trimmed, blank example lines dropped.
    fn tidy(&self) -> Self {
        let lines = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect()
        };
        Self {
            intent: self.intent.trim().to_owned(),
            answer: self.answer.trim().to_owned(),
            examples: lines(&self.examples),
            answer_es: self.answer_es.trim().to_owned(),
            examples_es: lines(&self.examples_es),
        }
    }
}

/// Who changes a setting, for the audit log.
#[derive(Debug, Clone)]
pub struct ChangedBy {
    /// The admin.
    pub actor: Actor,
    /// Their address.
    pub client: Option<IpAddr>,
}

/// Why a settings change was refused or failed. [`SettingsError::Invalid`]
/// messages say what to fix and are fit to show the admin; they never
/// repeat what was typed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The input is not valid.
    #[error("{0}")]
    Invalid(String),
    /// No FAQ entry or canned response has this name or id.
    #[error("there is no such entry")]
    NotFound,
    /// The audit event could not be written, so nothing was changed.
    #[error("the change could not be audited, so it was not made")]
    Audit,
    /// The model could not be retrained (the built-in intents file).
    #[error("the intent model could not be trained: {0}")]
    Training(#[from] TrainingError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

fn invalid(message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid(message.into())
}

/// The clinic's settings: the stored overrides, and the [`Live`] copy the
/// conversation reads (which also holds the configuration's defaults).
/// Cheap to build and clone: it holds handles only.
#[derive(Clone)]
pub struct Settings {
    store: Store,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
    live: Arc<Live>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings").finish_non_exhaustive()
    }
}

impl Settings {
    /// The settings over `live`, stored in `store`, audited in `audit`.
    #[must_use]
    pub fn new(store: Store, audit: AuditLog, clock: Arc<dyn Clock>, live: Arc<Live>) -> Self {
        Self {
            store,
            audit,
            clock,
            live,
        }
    }

    /// Applies the stored overrides to the live copy (at start-up): the
    /// hours at once, edited FAQ entries by a retrained model. A stored
    /// edit that no longer fits the knowledge file (its entry was removed)
    /// is skipped with a warning.
    ///
    /// # Errors
    /// When the database fails or a stored value does not parse.
    pub async fn load_stored(&self) -> Result<(), SettingsError> {
        let settings = self;
        let _one = self.live.writing.lock().await;
        if let Some(text) = settings.store.setting(STAFFED_HOURS).await? {
            let raw = serde_json::from_str(&text).map_err(|_| StoreError::Malformed)?;
            let hours = StaffedHours::from_raw(&raw).map_err(|_| StoreError::Malformed)?;
            settings.live.set_staffed_hours(hours);
        }
        let edits = settings.stored_faq_edits().await?;
        if !edits.is_empty() {
            let mut knowledge = settings.live.defaults.clone();
            for edit in &edits {
                let mut candidate = knowledge.clone();
                match candidate.faq.iter_mut().find(|e| e.intent == edit.intent) {
                    Some(entry) => edit.apply(entry),
                    None => {
                        tracing::warn!(intent = %edit.intent, "a stored FAQ edit names no entry of the knowledge file; skipped");
                        continue;
                    }
                }
                if candidate.validate().is_ok() {
                    knowledge = candidate;
                } else {
                    tracing::warn!(intent = %edit.intent, "a stored FAQ edit no longer fits the knowledge file; skipped");
                }
            }
            let brain = train_off_runtime(knowledge).await?;
            settings.live.set_brain(brain);
        }
        Ok(())
    }

    /// The live copy the conversation reads.
    #[must_use]
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    async fn stored_faq_edits(&self) -> Result<Vec<FaqEdit>, StoreError> {
        self.store
            .faq_overrides()
            .await?
            .into_iter()
            .map(|(intent, value)| {
                let mut edit: FaqEdit =
                    serde_json::from_str(&value).map_err(|_| StoreError::Malformed)?;
                edit.intent = intent;
                Ok(edit)
            })
            .collect()
    }

    /// Records `action` on `entity` as a success before the change is
    /// made (no change without its audit event); when making it then
    /// fails, records that too.
    async fn audited<T>(
        &self,
        by: &ChangedBy,
        action: AuditAction,
        entity: (&str, &str),
        change: impl std::future::Future<Output = Result<T, SettingsError>>,
    ) -> Result<T, SettingsError> {
        let event = |outcome| {
            let mut event =
                AuditEvent::new(by.actor.clone(), action, outcome).with_entity(entity.0, entity.1);
            if let Some(addr) = by.client {
                event = event.with_client(addr);
            }
            event
        };
        if let Err(e) = self.audit.record(event(AuditOutcome::Success)).await {
            tracing::error!(error = %e, "settings change not audited; refused");
            return Err(SettingsError::Audit);
        }
        let result = change.await;
        if result.is_err() {
            self.audit.record_or_log(event(AuditOutcome::Error)).await;
        }
        result
    }

    /// The staffed hours in force.
    #[must_use]
    pub fn staffed_hours(&self) -> StaffedHours {
        self.live.staffed_hours()
    }

    /// Sets the staffed hours, Monday first; patients are told by them at
    /// once.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the day (a time that is not
    /// `HH:MM`, only one of the two, closing before opening, or no staffed
    /// day at all); [`SettingsError::Audit`]; a storage error.
    pub async fn set_staffed_hours(
        &self,
        by: &ChangedBy,
        days: &[DayInput; 7],
    ) -> Result<(), SettingsError> {
        let hours = StaffedHours::from_days(parse_days(days)?);
        let _one = self.live.writing.lock().await;
        let before = self.live.staffed_hours().days();
        let changed: Vec<&str> = DAY_NAMES
            .iter()
            .zip(before.iter().zip(hours.days()))
            .filter(|(_, (a, b))| **a != *b)
            .map(|(name, _)| *name)
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let value = serde_json::to_string(&hours.to_raw()).map_err(|_| StoreError::Encoding)?;
        let now = self.clock.now().timestamp_millis();
        let entity = format!("{STAFFED_HOURS}#{}", changed.join(","));
        self.audited(
            by,
            AuditAction::SettingsStaffedHours,
            ("Setting", &entity),
            async {
                self.store.put_setting(STAFFED_HOURS, &value, now).await?;
                Ok(())
            },
        )
        .await?;
        self.live.set_staffed_hours(hours);
        tracing::info!(days = %changed.join(","), "staffed hours changed");
        Ok(())
    }

    /// Every FAQ entry as it is in force, in the knowledge file's order.
    #[must_use]
    pub fn faq_entries(&self) -> Vec<FaqEdit> {
        self.live
            .brain()
            .knowledge
            .faq
            .iter()
            .map(FaqEdit::of)
            .collect()
    }

    /// Edits one FAQ entry's answers and example questions; the assistant
    /// answers by the new words when this returns.
    ///
    /// # Errors
    /// [`SettingsError::NotFound`] for an intent the knowledge file does
    /// not have; [`SettingsError::Invalid`] saying what to fix;
    /// [`SettingsError::Audit`]; a storage or training error.
    pub async fn set_faq_entry(&self, by: &ChangedBy, edit: &FaqEdit) -> Result<(), SettingsError> {
        let edit = edit.tidy();
        check_faq_edit(&edit)?;
        let _one = self.live.writing.lock().await;
        let current = self.live.brain();
        let mut knowledge = current.knowledge.clone();
        let entry = knowledge
            .faq
            .iter_mut()
            .find(|e| e.intent == edit.intent)
            .ok_or(SettingsError::NotFound)?;
        let before = FaqEdit::of(entry);
        let changed = changed_fields(&before, &edit);
        if changed.is_empty() {
            return Ok(());
        }
        edit.apply(entry);
        knowledge.validate().map_err(|e| invalid(faq_problem(&e)))?;
        let retrain = before.examples != edit.examples || before.examples_es != edit.examples_es;
        let brain = if retrain {
            train_off_runtime(knowledge).await?
        } else {
            Brain {
                knowledge,
                model: current.model.clone(),
            }
        };
        let stored = FaqEdit {
            intent: String::new(),
            ..edit.clone()
        };
        let value = serde_json::to_string(&stored).map_err(|_| StoreError::Encoding)?;
        let now = self.clock.now().timestamp_millis();
        let entity = format!("{}#{}", edit.intent, changed.join(","));
        self.audited(
            by,
            AuditAction::SettingsFaqEntry,
            ("FaqEntry", &entity),
            async {
                self.store
                    .put_faq_override(&edit.intent, &value, now)
                    .await?;
                Ok(())
            },
        )
        .await?;
        self.live.set_brain(brain);
        tracing::info!(intent = %edit.intent, fields = %changed.join(","), retrained = retrain, "FAQ entry changed");
        Ok(())
    }

    /// Every canned response, by title.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn canned_responses(&self) -> Result<Vec<CannedResponse>, SettingsError> {
        Ok(self.store.canned_responses().await?)
    }

    /// Adds a canned response (`id` `None`) or replaces one's words.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] saying what to fix;
    /// [`SettingsError::NotFound`]; [`SettingsError::Audit`]; a storage
    /// error.
    pub async fn save_canned_response(
        &self,
        by: &ChangedBy,
        id: Option<i64>,
        title: &str,
        text_en: &str,
        text_es: &str,
    ) -> Result<CannedResponse, SettingsError> {
        let response = CannedResponse {
            id: id.unwrap_or(0),
            title: title.trim().to_owned(),
            text_en: text_en.trim().to_owned(),
            text_es: text_es.trim().to_owned(),
        };
        check_canned(&response)?;
        let _one = self.live.writing.lock().await;
        let now = self.clock.now().timestamp_millis();
        let existing = self.store.canned_responses().await?;
        if let Some(id) = id {
            let Some(old) = existing.iter().find(|r| r.id == id) else {
                return Err(SettingsError::NotFound);
            };
            if *old == response {
                return Ok(response);
            }
            self.audited(
                by,
                AuditAction::SettingsCannedChanged,
                ("CannedResponse", &id.to_string()),
                async {
                    if self.store.update_canned_response(&response, now).await? {
                        Ok(())
                    } else {
                        Err(SettingsError::NotFound)
                    }
                },
            )
            .await?;
            return Ok(response);
        }
        if existing.len() >= MAX_CANNED_RESPONSES {
            return Err(invalid(format!(
                "A clinic keeps at most {MAX_CANNED_RESPONSES} canned responses; delete one first."
            )));
        }
        let id = self
            .store
            .add_canned_response(&response.title, &response.text_en, &response.text_es, now)
            .await?;
        let mut event = AuditEvent::new(
            by.actor.clone(),
            AuditAction::SettingsCannedAdded,
            AuditOutcome::Success,
        )
        .with_entity("CannedResponse", &id.to_string());
        if let Some(addr) = by.client {
            event = event.with_client(addr);
        }
        if let Err(e) = self.audit.record(event).await {
            // No change without its audit event: take it back.
            tracing::error!(error = %e, "canned response not audited; removed again");
            let _ = self.store.delete_canned_response(id).await;
            return Err(SettingsError::Audit);
        }
        Ok(CannedResponse { id, ..response })
    }

    /// Deletes a canned response.
    ///
    /// # Errors
    /// [`SettingsError::NotFound`]; [`SettingsError::Audit`]; a storage
    /// error.
    pub async fn delete_canned_response(
        &self,
        by: &ChangedBy,
        id: i64,
    ) -> Result<(), SettingsError> {
        let _one = self.live.writing.lock().await;
        let existing = self.store.canned_responses().await?;
        if !existing.iter().any(|r| r.id == id) {
            return Err(SettingsError::NotFound);
        }
        self.audited(
            by,
            AuditAction::SettingsCannedDeleted,
            ("CannedResponse", &id.to_string()),
            async {
                if self.store.delete_canned_response(id).await? {
                    Ok(())
                } else {
                    Err(SettingsError::NotFound)
                }
            },
        )
        .await
    }
}

async fn train_off_runtime(knowledge: KnowledgeBase) -> Result<Brain, SettingsError> {
    let started = std::time::Instant::now();
    let brain = tokio::task::spawn_blocking(move || Brain::train(knowledge))
        .await
        .map_err(|_| invalid("The intent model could not be trained; try again."))??;
    tracing::info!(
        millis = started.elapsed().as_millis(),
        "intent model retrained"
    );
    Ok(brain)
}

/// The hours an admin typed, checked; messages name the day.
///
/// # Errors
/// [`SettingsError::Invalid`].
pub fn parse_days(days: &[DayInput; 7]) -> Result<[Option<Range>; 7], SettingsError> {
    let mut out = [None; 7];
    for ((slot, day), label) in out.iter_mut().zip(days).zip(DAY_LABELS) {
        let (opens, closes) = (day.opens.trim(), day.closes.trim());
        *slot = match (opens.is_empty(), closes.is_empty()) {
            (true, true) => None,
            (false, true) | (true, false) => {
                return Err(invalid(format!(
                "{label}: give both the opening and the closing time, or neither for a closed day."
            )))
            }
            (false, false) => {
                let time = |t: &str| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok();
                let (Some(a), Some(b)) = (time(opens), time(closes)) else {
                    return Err(invalid(format!(
                        "{label}: write times as HH:MM on the 24-hour clock, such as 08:00 or 17:30."
                    )));
                };
                if a >= b {
                    return Err(invalid(format!(
                        "{label}: the closing time must be after the opening time."
                    )));
                }
                Some(Range {
                    opens: a,
                    closes: b,
                })
            }
        };
    }
    if out.iter().all(Option::is_none) {
        return Err(invalid(
            "Give at least one staffed day: with none, patients could never be told when someone is back.",
        ));
    }
    Ok(out)
}

fn printable(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
}

fn check_faq_edit(edit: &FaqEdit) -> Result<(), SettingsError> {
    if edit.answer.is_empty() {
        return Err(invalid("Write the English answer patients should see."));
    }
    for (answer, language) in [(&edit.answer, "English"), (&edit.answer_es, "Spanish")] {
        if answer.chars().count() > MAX_ANSWER_CHARS {
            return Err(invalid(format!(
                "The {language} answer is too long: at most {MAX_ANSWER_CHARS} characters."
            )));
        }
        if !printable(answer) {
            return Err(invalid(format!(
                "The {language} answer has characters that cannot be shown; retype it."
            )));
        }
    }
    if edit.examples.is_empty() {
        return Err(invalid(
            "Give at least one English example question, one per line.",
        ));
    }
    if edit.answer_es.is_empty() && !edit.examples_es.is_empty() {
        return Err(invalid(
            "Write the Spanish answer too, or remove the Spanish example questions.",
        ));
    }
    for (examples, language) in [(&edit.examples, "English"), (&edit.examples_es, "Spanish")] {
        if examples.len() > MAX_EXAMPLES {
            return Err(invalid(format!(
                "At most {MAX_EXAMPLES} {language} example questions per entry."
            )));
        }
        for (n, example) in examples.iter().enumerate() {
            if example.chars().count() > MAX_EXAMPLE_CHARS || !printable(example) {
                return Err(invalid(format!(
                    "{language} example question {}: at most {MAX_EXAMPLE_CHARS} characters, on one line.",
                    n + 1
                )));
            }
        }
    }
    Ok(())
}

/// A knowledge-base check's problem, for the admin (the entry is the one
/// they edit, so its position is left out).
fn faq_problem(e: &carechat_language::knowledge::KnowledgeError) -> String {
    match e {
        carechat_language::knowledge::KnowledgeError::InvalidEntry {
            intent, problem, ..
        } => {
            let mut text = format!("{intent}: {problem}");
            if let Some(first) = text.get(..1) {
                let upper = first.to_uppercase();
                text.replace_range(..1, &upper);
            }
            text
        }
        other => other.to_string(),
    }
}

fn changed_fields(before: &FaqEdit, after: &FaqEdit) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if before.answer != after.answer {
        changed.push("answer");
    }
    if before.examples != after.examples {
        changed.push("examples");
    }
    if before.answer_es != after.answer_es {
        changed.push("es.answer");
    }
    if before.examples_es != after.examples_es {
        changed.push("es.examples");
    }
    changed
}

fn check_canned(response: &CannedResponse) -> Result<(), SettingsError> {
    let title = response.title.chars().count();
    if title == 0 || title > MAX_TITLE_CHARS || response.title.chars().any(char::is_control) {
        return Err(invalid(format!(
            "Give the canned response a title of 1 to {MAX_TITLE_CHARS} characters, on one line."
        )));
    }
    for (text, language) in [
        (&response.text_en, "English"),
        (&response.text_es, "Spanish"),
    ] {
        if text.is_empty() {
            return Err(invalid(format!(
                "Write the {language} text: canned responses are kept in both languages."
            )));
        }
        if text.chars().count() > MAX_CANNED_CHARS || !printable(text) {
            return Err(invalid(format!(
                "The {language} text may have at most {MAX_CANNED_CHARS} printable characters."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day(opens: &str, closes: &str) -> DayInput {
        DayInput {
            opens: opens.into(),
            closes: closes.into(),
        }
    }

    #[test]
    fn typed_hours_are_checked_and_named_by_day() {
        let mut days: [DayInput; 7] = Default::default();
        assert!(parse_days(&days)
            .unwrap_err()
            .to_string()
            .contains("at least one"));
        days[0] = day("08:00", "17:00");
        days[5] = day(" 09:00 ", "13:00");
        let parsed = parse_days(&days).unwrap();
        assert_eq!(parsed[5].unwrap().to_text(), "09:00-13:00");
        assert!(parsed[6].is_none());
        days[2] = day("17:00", "08:00");
        let e = parse_days(&days).unwrap_err().to_string();
        assert!(e.starts_with("Wednesday") && e.contains("after"), "{e}");
        days[2] = day("8am", "5pm");
        assert!(parse_days(&days).unwrap_err().to_string().contains("HH:MM"));
        days[2] = day("08:00", "");
        assert!(parse_days(&days).unwrap_err().to_string().contains("both"));
    }

    #[test]
    fn canned_responses_need_both_languages_and_a_title() {
        let ok = CannedResponse {
            id: 0,
            title: "Greeting".into(),
            text_en: "Hello".into(),
            text_es: "Hola".into(),
        };
        assert!(check_canned(&ok).is_ok());
        let no_es = CannedResponse {
            text_es: String::new(),
            ..ok.clone()
        };
        assert!(check_canned(&no_es)
            .unwrap_err()
            .to_string()
            .contains("Spanish"));
        let long_title = CannedResponse {
            title: "x".repeat(81),
            ..ok.clone()
        };
        assert!(check_canned(&long_title).is_err());
        let too_long = CannedResponse {
            text_en: "x".repeat(MAX_CANNED_CHARS + 1),
            ..ok
        };
        assert!(check_canned(&too_long).is_err());
    }

    #[test]
    fn faq_edits_say_what_is_missing() {
        let edit = FaqEdit {
            intent: "faq.hours".into(),
            answer: "Open".into(),
            examples: vec!["When are you open?".into()],
            answer_es: String::new(),
            examples_es: vec!["¿Cuándo abren?".into()],
        };
        assert!(check_faq_edit(&edit)
            .unwrap_err()
            .to_string()
            .contains("Spanish answer"));
        let edit = FaqEdit {
            examples: vec![],
            examples_es: vec![],
            ..edit
        };
        assert!(check_faq_edit(&edit)
            .unwrap_err()
            .to_string()
            .contains("example"));
        let tidy = FaqEdit {
            examples: vec!["  a ".into(), "   ".into()],
            ..edit
        }
        .tidy();
        assert_eq!(tidy.examples, vec!["a".to_owned()]);
    }
}
