//! The vocabulary both sides share: notice and error codes, card kinds, the
//! safety screen's categories, and the intents the server names in
//! `reply.intent`. On the wire they stay the strings of `PROTOCOL.md` and
//! `docs/PROTOCOL-EXTENSIONS.md`; in code they are these types, so a typo is
//! a compile error and the widget matches variants, not strings.

/// Declares a closed set of codes with their wire names.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name on the wire.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// The value a wire name stands for, if it is one of these.
            #[must_use]
            pub fn parse(wire: &str) -> Option<Self> {
                match wire {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// `notice.code`.
    NoticeCode {
        /// Consent recorded.
        ConsentAccepted = "consent_accepted",
        /// Consent declined; nothing is stored.
        ConsentDeclined = "consent_declined",
        /// The chat is waiting for a person from the clinic; the text says
        /// what happens next (and the patient's place in the queue).
        HandoffQueued = "handoff_queued",
        /// As `handoff_queued`, outside the clinic's staffed hours: the text
        /// says when the clinic opens and the number to call.
        HandoffAfterHours = "handoff_after_hours",
        /// A person from the clinic has joined; `staff` messages follow.
        HandoffJoined = "handoff_joined",
        /// The person handed the chat back to the assistant.
        HandoffReturned = "handoff_returned",
        /// The person closed the conversation.
        HandoffClosed = "handoff_closed",
        /// The answer is taking longer than usual (the clinic's records
        /// system is slow); it follows when it is ready.
        StillWorking = "still_working",
    }
}

codes! {
    /// `error.code`.
    ErrorCode {
        /// A `say` before consent that is not a crisis.
        ConsentRequired = "consent_required",
        /// `consent` named another policy version than `welcome`.
        PolicyVersionMismatch = "policy_version_mismatch",
        /// The consent record could not be written.
        ConsentNotRecorded = "consent_not_recorded",
        /// A `say` over the length limit that is not a crisis.
        MessageTooLong = "message_too_long",
        /// An empty or over-long message id.
        InvalidMessageId = "invalid_message_id",
        /// A `locale` the chat does not speak.
        UnsupportedLocale = "unsupported_locale",
        /// A `feedback` naming no reply of this session that takes feedback.
        UnknownReply = "unknown_reply",
        /// A `feedback` whose fields are missing or not of the listed
        /// values (or a reason given with an `up` vote).
        InvalidFeedback = "invalid_feedback",
        /// A `say` or `choose` faster than the session's message rate; it
        /// was not processed (a crisis is still answered).
        RateLimited = "rate_limited",
        /// The session has sent as many messages as one chat may.
        SessionFull = "session_full",
    }
}

codes! {
    /// `card.kind`.
    CardKind {
        /// The patient's upcoming appointments.
        Appointments = "appointments",
        /// Free slots to pick from.
        Slots = "slots",
        /// What is about to change, with Yes and No.
        Confirm = "confirm",
        /// A booked or moved appointment.
        Booked = "booked",
        /// A cancelled appointment.
        Cancelled = "cancelled",
        /// Lab orders and their status.
        Labs = "labs",
        /// Prescriptions and their refill status.
        Refills = "refills",
        /// Call and text buttons after a crisis or emergency reply.
        Emergency = "emergency",
        /// A clarifying question's choices, or what to do after advice.
        Choices = "choices",
    }
}

codes! {
    /// `card.category` of an `emergency` card: what the safety screen found.
    Category {
        /// Suicide or self-harm, an overdose taken.
        SelfHarm = "self_harm",
        /// Wanting or planning to hurt someone.
        HarmToOthers = "harm_to_others",
        /// Domestic violence, child abuse, sexual assault.
        Abuse = "abuse",
        /// A medical emergency now.
        MedicalEmergency = "medical_emergency",
        /// Something swallowed by accident, a wrong dose.
        Poisoning = "poisoning",
    }
}

codes! {
    /// `reply.intent`, except the clinic's own FAQ entries (`faq.*`, see
    /// [`FAQ_PREFIX`]).
    Intent {
        /// Crisis guidance (self-harm, harm to others, abuse).
        SafetyCrisis = "safety.crisis",
        /// Emergency guidance (medical emergency, poisoning).
        SafetyEmergency = "safety.emergency",
        /// A kind refusal of medical advice.
        SafetyMedicalAdvice = "safety.medical_advice",
        /// A greeting.
        ChatGreeting = "chat.greeting",
        /// Thanks.
        ChatThanks = "chat.thanks",
        /// A goodbye.
        ChatGoodbye = "chat.goodbye",
        /// An empty message.
        ChatEmpty = "chat.empty",
        /// The patient asked for a person: the reply says they are queued.
        HandoffPerson = "handoff.person",
        /// A message delivered to the person from the clinic who owns the
        /// chat; the reply's text is empty and nothing is shown for it.
        HandoffDelivered = "handoff.delivered",
        /// The model was unsure: a `choices` card follows.
        Clarify = "clarify",
        /// Nothing the chat knows about.
        FallbackUnknown = "fallback.unknown",
        /// Details needed before the patient's records.
        IdentityDetailsNeeded = "identity.details_needed",
        /// Details that could not be read.
        IdentityDetailsUnclear = "identity.details_unclear",
        /// A code was sent (the same words whether the details matched).
        IdentityCodeSent = "identity.code_sent",
        /// Something other than a code while one is awaited.
        IdentityCodeNeeded = "identity.code_needed",
        /// A wrong code.
        IdentityCodeWrong = "identity.code_wrong",
        /// A code with no tries left.
        IdentityCodeSpent = "identity.code_spent",
        /// An expired or used code.
        IdentityCodeExpired = "identity.code_expired",
        /// Asked for a new code too soon.
        IdentityResendWait = "identity.resend_wait",
        /// Verification locked.
        IdentityLocked = "identity.locked",
        /// Too many verifications or codes for now: nothing was sent; call
        /// the clinic (the same words for a patient and a stranger).
        IdentityLimited = "identity.limited",
        /// Verification could not be done now.
        IdentityUnavailable = "identity.unavailable",
        /// Verification stopped.
        IdentityCancelled = "identity.cancelled",
        /// The patient's appointments.
        AppointmentsList = "appointments.list",
        /// No upcoming appointments.
        AppointmentsNone = "appointments.none",
        /// Free slots to book.
        AppointmentsBook = "appointments.book",
        /// No free slot for the request.
        AppointmentsNoSlots = "appointments.no_slots",
        /// A confirmation card follows.
        AppointmentsConfirm = "appointments.confirm",
        /// Booked.
        AppointmentsBooked = "appointments.booked",
        /// The slot went to someone else.
        AppointmentsSlotTaken = "appointments.slot_taken",
        /// Which appointment to cancel.
        AppointmentsCancel = "appointments.cancel",
        /// Cancelled.
        AppointmentsCancelled = "appointments.cancelled",
        /// Which appointment to move, or free slots to move it to.
        AppointmentsReschedule = "appointments.reschedule",
        /// Moved.
        AppointmentsRescheduled = "appointments.rescheduled",
        /// Lab status.
        LabsStatus = "labs.status",
        /// No lab orders.
        LabsNone = "labs.none",
        /// Refill status.
        RefillsStatus = "refills.status",
        /// No prescriptions.
        RefillsNone = "refills.none",
        /// A card button that is no longer valid.
        CardExpired = "card.expired",
        /// "No" or "None of these".
        CardDismissed = "card.dismissed",
        /// The EHR is down or slow; "try again" repeats the request.
        EhrUnavailable = "ehr.unavailable",
        /// The EHR no longer has what was asked about.
        EhrNotFound = "ehr.not_found",
        /// The EHR refused the request.
        EhrError = "ehr.error",
    }
}

/// The prefix of every FAQ intent (`faq.hours`): the clinic names its own.
pub const FAQ_PREFIX: &str = "faq.";

codes! {
    /// `feedback.vote`: the patient's thumbs on one reply.
    Vote {
        /// Thumbs up: the reply helped.
        Up = "up",
        /// Thumbs down: it did not.
        Down = "down",
    }
}

codes! {
    /// `feedback.reason`: why a reply did not help; only with [`Vote::Down`],
    /// and optional there.
    FeedbackReason {
        /// The reply answered another question.
        NotWhatIAsked = "not_what_i_asked",
        /// The words were hard to follow.
        HardToUnderstand = "hard_to_understand",
        /// The reply was wrong or out of date.
        WrongOrOutOfDate = "wrong_or_out_of_date",
        /// Something else.
        Other = "other",
    }
}

/// Serializes a code as its wire name and reads it back from one; any other
/// string is a deserialization error.
macro_rules! serde_by_wire_name {
    ($($name:ident),+) => {
        $(
            impl serde::Serialize for $name {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str(self.as_str())
                }
            }

            impl<'de> serde::Deserialize<'de> for $name {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    let wire = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    Self::parse(&wire).ok_or_else(|| {
                        serde::de::Error::custom(concat!("not a ", stringify!($name)))
                    })
                }
            }
        )+
    };
}

serde_by_wire_name!(Vote, FeedbackReason);

/// Whether a reply under `intent` takes the patient's feedback. Not crisis
/// or emergency guidance (the patient's attention belongs on the numbers to
/// call, and the guidance is the clinic's fixed policy, not something to
/// tune by votes), and not `handoff.delivered` (nothing was shown).
#[must_use]
pub fn takes_feedback(intent: &str) -> bool {
    !matches!(
        Intent::parse(intent),
        Some(Intent::SafetyCrisis | Intent::SafetyEmergency | Intent::HandoffDelivered)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_name_reads_back_and_is_unique() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            name: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            let mut seen = std::collections::HashSet::new();
            for &value in all {
                assert!(seen.insert(name(value)), "{value:?}");
                assert_eq!(parse(name(value)), Some(value));
            }
            assert_eq!(parse("no such code"), None);
        }
        check(NoticeCode::ALL, NoticeCode::as_str, NoticeCode::parse);
        check(ErrorCode::ALL, ErrorCode::as_str, ErrorCode::parse);
        check(CardKind::ALL, CardKind::as_str, CardKind::parse);
        check(Category::ALL, Category::as_str, Category::parse);
        check(Intent::ALL, Intent::as_str, Intent::parse);
        check(Vote::ALL, Vote::as_str, Vote::parse);
        check(
            FeedbackReason::ALL,
            FeedbackReason::as_str,
            FeedbackReason::parse,
        );
    }

    #[test]
    fn votes_and_reasons_travel_as_their_wire_names_and_nothing_else() {
        for &vote in Vote::ALL {
            let json = serde_json::to_string(&vote).unwrap();
            assert_eq!(json, format!("\"{}\"", vote.as_str()));
            assert_eq!(serde_json::from_str::<Vote>(&json).unwrap(), vote);
        }
        for &reason in FeedbackReason::ALL {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(
                serde_json::from_str::<FeedbackReason>(&json).unwrap(),
                reason
            );
        }
        for bad in [r#""UP""#, r#""sideways""#, "1", "null", "true", r#"["up"]"#] {
            assert!(serde_json::from_str::<Vote>(bad).is_err(), "{bad}");
            assert!(
                serde_json::from_str::<FeedbackReason>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn crisis_guidance_and_delivered_messages_take_no_feedback() {
        assert!(!takes_feedback("safety.crisis"));
        assert!(!takes_feedback("safety.emergency"));
        assert!(!takes_feedback("handoff.delivered"));
        assert!(takes_feedback("safety.medical_advice"));
        assert!(takes_feedback("faq.hours"));
        assert!(takes_feedback("fallback.unknown"));
        assert!(takes_feedback("appointments.list"));
    }
}
