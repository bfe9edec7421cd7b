//! Every word the console shows that depends on data: refusals, roles,
//! reasons, crisis categories and waiting times. The console is for clinic
//! staff and speaks English only; the patient's language is shown per chat.

use crate::api::{Reason, Refusal, Role};

/// The fixed text for a refusal. None of them says more than the kind.
pub fn refusal_text(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::SignedOut => {
            "You were signed out after 15 minutes without activity. Please sign in again."
        }
        Refusal::BadCredentials => "The username, password or code is wrong. Please try again.",
        Refusal::Locked => {
            "This account is locked for a while after too many failed sign-ins. \
             Try again later, or ask an admin."
        }
        Refusal::Throttled => {
            "Too many attempts from this computer. Wait a few minutes, then try again."
        }
        Refusal::BadRequest => "The request was refused. Reload the page and try again.",
        Refusal::NotAllowed => "Your role cannot do this.",
        Refusal::Gone => "This conversation is no longer in the queue.",
        Refusal::Taken => "Someone else has already picked up this conversation.",
        Refusal::Invalid => "Some of what you entered is not valid. Check the form and try again.",
        Refusal::Unavailable => "The server could not do this right now. Please try again.",
    }
}

/// A role's name as staff read it.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::FrontDesk => "Front desk",
        Role::Nurse => "Nurse",
        Role::Compliance => "Compliance",
        Role::Admin => "Admin",
    }
}

/// Whether a role works the queue and live chats.
pub fn works_queue(role: Role) -> bool {
    matches!(role, Role::FrontDesk | Role::Nurse)
}

/// Why a conversation is queued, in a few words.
pub fn reason_label(reason: &Reason) -> String {
    match reason {
        Reason::AskedForPerson => "Asked for a person".into(),
        Reason::Crisis { category } => format!("Crisis: {}", category_label(category)),
        Reason::NotHelped => "Answers did not help".into(),
        Reason::RecordsUnavailable => "Records unavailable".into(),
    }
}

/// The `data-reason` value of a queue entry.
pub fn reason_key(reason: &Reason) -> &'static str {
    match reason {
        Reason::AskedForPerson => "asked_for_person",
        Reason::Crisis { .. } => "crisis",
        Reason::NotHelped => "not_helped",
        Reason::RecordsUnavailable => "records_unavailable",
    }
}

/// What the safety screen found, as staff read it.
pub fn category_label(category: &str) -> &str {
    match category {
        "self_harm" => "self-harm",
        "harm_to_others" => "harm to others",
        "abuse" => "abuse",
        "medical_emergency" => "medical emergency",
        "poisoning" => "poisoning",
        other => other,
    }
}

/// The chat's language, by name.
pub fn locale_label(locale: &str) -> &str {
    match locale {
        "en" => "English",
        "es" => "Spanish",
        other => other,
    }
}

/// How long an entry has waited: "under a minute", "1 minute",
/// "12 minutes", "1 h 5 min".
pub fn waiting_label(secs: u64) -> String {
    let minutes = secs / 60;
    match minutes {
        0 => "under a minute".into(),
        1 => "1 minute".into(),
        2..=59 => format!("{minutes} minutes"),
        _ => format!("{} h {} min", minutes / 60, minutes % 60),
    }
}

/// The tab title: the number of crisis chats nobody has picked up yet, if
/// any, then the console's name.
pub fn tab_title(crisis_waiting: usize) -> String {
    if crisis_waiting == 0 {
        BASE_TITLE.into()
    } else {
        format!("({crisis_waiting}) Crisis waiting – {BASE_TITLE}")
    }
}

/// Why an admin call failed, as the admin page shows it: what to fix, or
/// the refusal's fixed text.
pub fn admin_error_text(error: &crate::api::admin::AdminError) -> String {
    match error {
        crate::api::admin::AdminError::Invalid(message) => message.clone(),
        crate::api::admin::AdminError::Refused(Refusal::Gone) => {
            "It no longer exists. Reload the page to see what is there now.".into()
        }
        crate::api::admin::AdminError::Refused(refusal) => refusal_text(*refusal).into(),
    }
}

/// Why the browser gave no passkey, in words (the server's refusals use
/// [`refusal_text`]; a refused passkey sign-in says what a refused
/// password does, [`PASSKEY_NOT_ACCEPTED`]).
pub fn passkey_browser_text(
    refusal: crate::calls::passkey::browser::BrowserRefusal,
) -> &'static str {
    use crate::calls::passkey::browser::BrowserRefusal;
    match refusal {
        BrowserRefusal::Unsupported => {
            "This browser cannot use passkeys here. Use your password and code instead."
        }
        BrowserRefusal::Cancelled => {
            "No passkey was used: it was cancelled, it timed out, or this device has no \
             passkey for this username. Try again, or use your password and code."
        }
        BrowserRefusal::AlreadyRegistered => "This device already has a passkey for your account.",
        BrowserRefusal::Failed => "The passkey did not work. Please try again.",
    }
}

/// A passkey sign-in the server refused (one answer for every cause).
pub const PASSKEY_NOT_ACCEPTED: &str =
    "The username or passkey was not accepted. Please try again, or use your password and code.";

/// The console's name, in the tab title and the top bar.
pub const BASE_TITLE: &str = "CareChat console";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_times_read_naturally() {
        assert_eq!(waiting_label(5), "under a minute");
        assert_eq!(waiting_label(60), "1 minute");
        assert_eq!(waiting_label(12 * 60 + 30), "12 minutes");
        assert_eq!(waiting_label(65 * 60), "1 h 5 min");
    }

    #[test]
    fn the_title_counts_waiting_crises() {
        assert_eq!(tab_title(0), "CareChat console");
        assert_eq!(tab_title(2), "(2) Crisis waiting – CareChat console");
    }

    #[test]
    fn crisis_reasons_name_their_category() {
        let reason = Reason::Crisis {
            category: "self_harm".into(),
        };
        assert_eq!(reason_label(&reason), "Crisis: self-harm");
        assert_eq!(reason_key(&reason), "crisis");
    }
}
