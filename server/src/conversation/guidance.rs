//! What the chat says when the safety screen finds something: emergency
//! guidance for each crisis category, with the right numbers as tap-to-call
//! and tap-to-text buttons, and a kind refusal for medical advice. The
//! numbers are the clinic's (`[clinic.crisis_lines]`, US national lines by
//! default); the words come from the message catalog in the patient's
//! language.

use carechat_language::lang::Locale;
use carechat_language::safety::Category;
use protocol::vocab::{CardKind, Intent};
use protocol::CardAction;

use super::answer::{Answer, Card};
use super::state::{ChatState, Offer};
use super::Conversation;
use crate::i18n::Arg;
use crate::phi::Phi;

/// A `tel:` link for a phone number as people write it: digits only, and
/// `+1` in front of a ten-digit US number ("(555) 010-4477" is
/// `tel:+15550104477`; "911" stays `tel:911`).
#[must_use]
pub fn tel_href(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        10 => format!("tel:+1{digits}"),
        11 if digits.starts_with('1') => format!("tel:+{digits}"),
        _ => format!("tel:{digits}"),
    }
}

/// An `sms:` link with a first message ("Text HOME to 741741").
#[must_use]
pub fn sms_href(number: &str, body: Option<&str>) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match body {
        Some(body) => format!("sms:{digits}?body={body}"),
        None => format!("sms:{digits}"),
    }
}

fn link(id: &str, label: String, href: String) -> CardAction {
    CardAction {
        id: id.to_owned(),
        label,
        href: Some(href),
    }
}

impl Conversation {
    /// Emergency guidance for a crisis, with its card of call buttons.
    pub(super) fn crisis(&self, locale: Locale, category: Category) -> Answer {
        let lines = &self.clinic.crisis_lines;
        let nurse = self.nurse_line();
        let args = [
            ("emergency", Arg::from(lines.emergency.as_str())),
            ("crisis", Arg::from(lines.crisis.as_str())),
            ("textline", Arg::from(lines.crisis_text_line.as_str())),
            ("dv", Arg::from(lines.domestic_violence.as_str())),
            ("poison", Arg::from(lines.poison_control.as_str())),
            ("nurse", Arg::from(nurse)),
        ];
        let key = match category {
            Category::SelfHarm => "safety-self-harm",
            Category::HarmToOthers => "safety-harm-to-others",
            Category::Abuse => "safety-abuse",
            Category::MedicalEmergency => "safety-medical-emergency",
            Category::Poisoning => "safety-poisoning",
        };
        let t = |key: &str| self.catalog.text(locale, key, &args);
        let call_911 = link(
            "call-emergency",
            t("call-emergency"),
            tel_href(&lines.emergency),
        );
        let call_988 = link("call-crisis", t("call-crisis"), tel_href(&lines.crisis));
        let text_988 = link(
            "text-crisis",
            t("text-crisis"),
            sms_href(&lines.crisis, (locale == Locale::Es).then_some("AYUDA")),
        );
        let text_line = link(
            "text-crisis-text-line",
            t("text-crisis-text-line"),
            sms_href(
                &lines.crisis_text_line,
                Some(if locale == Locale::Es { "HOLA" } else { "HOME" }),
            ),
        );
        let call_dv = link("call-dv", t("call-dv"), tel_href(&lines.domestic_violence));
        let call_poison = link(
            "call-poison",
            t("call-poison"),
            tel_href(&lines.poison_control),
        );
        let call_nurse = link("call-nurse", t("call-nurse"), tel_href(nurse));
        let actions = match category {
            Category::SelfHarm => vec![call_988, text_988, call_911, text_line, call_nurse],
            Category::HarmToOthers => vec![call_911, call_988, call_nurse],
            Category::Abuse => vec![call_911, call_dv, call_988, call_nurse],
            Category::MedicalEmergency => vec![call_911, call_nurse],
            Category::Poisoning => vec![call_poison, call_911, call_nurse],
        };
        let intent = if category.is_medical() {
            Intent::SafetyEmergency
        } else {
            Intent::SafetyCrisis
        };
        Answer {
            escalated: true,
            card: Some(Card {
                kind: CardKind::Emergency,
                title: t("emergency-card-title"),
                items: Vec::new(),
                actions,
                category: Some(category.as_str().to_owned()),
            }),
            ..Answer::text(intent, t(key))
        }
    }

    /// The kind refusal of medical advice: the disclaimer, the nurse line,
    /// and an offer of an appointment.
    pub(super) fn medical_advice(&self, state: &mut ChatState, text: &str) -> Answer {
        let locale = state.locale;
        let nurse = self.nurse_line();
        let words = self.catalog.text(
            locale,
            "safety-medical-advice",
            &[
                ("nurse", Arg::from(nurse)),
                (
                    "emergency",
                    Arg::from(self.clinic.crisis_lines.emergency.as_str()),
                ),
                (
                    "crisis",
                    Arg::from(self.clinic.crisis_lines.crisis.as_str()),
                ),
            ],
        );
        let book = state.offer(
            self.catalog.text(locale, "offer-book", &[]),
            Offer::Meant {
                intent: Intent::AppointmentsBook.as_str().to_owned(),
                request: Phi::new(text.to_owned()),
            },
        );
        let call_nurse = link(
            "call-nurse",
            self.catalog.text(locale, "call-nurse", &[]),
            tel_href(nurse),
        );
        Answer {
            escalated: true,
            ..Answer::text(Intent::SafetyMedicalAdvice, words)
        }
        .card(
            CardKind::Choices,
            self.catalog.text(locale, "advice-card-title", &[]),
            Vec::new(),
            vec![book, call_nurse],
        )
    }

    fn nurse_line(&self) -> &str {
        self.clinic
            .nurse_line
            .as_deref()
            .unwrap_or(&self.clinic.phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_dial_what_people_write() {
        assert_eq!(tel_href("(555) 010-4477"), "tel:+15550104477");
        assert_eq!(tel_href("1-800-799-7233"), "tel:+18007997233");
        assert_eq!(tel_href("911"), "tel:911");
        assert_eq!(sms_href("741741", Some("HOME")), "sms:741741?body=HOME");
        assert_eq!(sms_href("988", None), "sms:988");
    }
}
