//! Scheduling and card buttons: offering free slots, the confirmation card
//! before anything in the EHR changes, and what each button does once
//! pressed. The words of a request are read by [`crate::booking`].

use protocol::vocab::{CardKind, Intent};

use super::answer::Answer;
use super::state::{ChatState, Offer, Retry};
use super::{Conversation, Turn};
use crate::booking::{self, Wish};
use crate::ehr::{Appointment, PatientMatch};
use crate::i18n::Arg;

impl Conversation {
    /// Offers up to three free slots for a wish (to book, or to move
    /// `moving` to).
    pub(super) async fn offer_slots(
        &self,
        state: &mut ChatState,
        wish: Wish,
        moving: Option<Appointment>,
        retry: Retry,
    ) -> Answer {
        let locale = state.locale;
        let now = self.clock.now();
        let query = booking::query(&wish, now, self.tz);
        let slots = match self.records.free_slots(&query).await {
            Ok(s) => s,
            Err(e) => return self.ehr_failed(state, e, retry),
        };
        let picked = booking::pick(&slots, &wish, self.tz);
        let stranger = if wish.unknown_practitioner {
            match self.records.practitioners().await {
                Ok(all) => {
                    let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
                    let names = names.join(", ");
                    Some(self.t(
                        locale,
                        "appointments-unknown-practitioner",
                        &[("names", Arg::from(&names))],
                    ))
                }
                Err(e) => return self.ehr_failed(state, e, retry),
            }
        } else {
            None
        };
        let with_stranger = |text: String| match &stranger {
            Some(note) => format!("{note} {text}"),
            None => text,
        };
        if picked.is_empty() {
            return Answer::text(
                Intent::AppointmentsNoSlots,
                with_stranger(self.t(locale, "appointments-no-slots", &[])),
            );
        }
        let items = picked
            .iter()
            .map(|s| {
                let action = state.offer(
                    self.t(locale, "button-choose", &[]),
                    Offer::Slot {
                        slot: s.clone(),
                        moving: moving.clone(),
                    },
                );
                self.slot_item(locale, s, vec![action])
            })
            .collect();
        let none = state.offer(self.t(locale, "button-none-of-these", &[]), Offer::Dismiss);
        let intent = if moving.is_some() {
            Intent::AppointmentsReschedule
        } else {
            Intent::AppointmentsBook
        };
        Answer::text(
            intent,
            with_stranger(self.t(locale, "appointments-slots", &[])),
        )
        .card(
            CardKind::Slots,
            self.t(locale, "slots-title", &[]),
            items,
            vec![none],
        )
    }

    /// A button that needs no verified patient: a clarifying question's
    /// choice, or "No".
    pub(super) async fn act_open(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        offer: Offer,
    ) -> Answer {
        match offer {
            Offer::Meant { intent, request } => {
                self.answer_intent(turn, state, &intent, request.expose())
                    .await
            }
            _ => Answer::text(
                Intent::CardDismissed,
                self.t(state.locale, "card-dismissed", &[]),
            ),
        }
    }

    /// Does what a card button of a verified patient stands for.
    pub(super) async fn act(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        patient: &PatientMatch,
        offer: Offer,
    ) -> Answer {
        let locale = state.locale;
        let who = &turn.who;
        let confirm = |state: &mut ChatState, yes_key: &str, yes: Offer, no_key: &str| {
            vec![
                state.offer(self.t(locale, yes_key, &[]), yes),
                state.offer(self.t(locale, no_key, &[]), Offer::Dismiss),
            ]
        };
        match offer.clone() {
            Offer::Dismiss | Offer::Meant { .. } => self.act_open(turn, state, offer).await,
            Offer::Slot { slot, moving: None } => {
                let actions = confirm(
                    state,
                    "button-yes-book",
                    Offer::ConfirmBook(slot.clone()),
                    "button-no",
                );
                Answer::text(
                    Intent::AppointmentsConfirm,
                    self.t(locale, "appointments-confirm", &[]),
                )
                .card(
                    CardKind::Confirm,
                    self.t(locale, "confirm-book-title", &[]),
                    vec![self.slot_item(locale, &slot, Vec::new())],
                    actions,
                )
            }
            Offer::Slot {
                slot,
                moving: Some(from),
            } => {
                let actions = confirm(
                    state,
                    "button-yes-move",
                    Offer::ConfirmMove {
                        from: from.clone(),
                        to: slot.clone(),
                    },
                    "button-no",
                );
                let mut old = self.appointment_item(locale, &from, Vec::new());
                old.title = self.t(locale, "move-from", &[("when", (&old.title).into())]);
                let mut new = self.slot_item(locale, &slot, Vec::new());
                new.title = self.t(locale, "move-to", &[("when", (&new.title).into())]);
                Answer::text(
                    Intent::AppointmentsConfirm,
                    self.t(locale, "appointments-confirm", &[]),
                )
                .card(
                    CardKind::Confirm,
                    self.t(locale, "confirm-move-title", &[]),
                    vec![old, new],
                    actions,
                )
            }
            Offer::ConfirmBook(slot) => match self.records.book(who, &patient.id, &slot.id).await {
                Ok(a) => {
                    let a = a.into_inner();
                    Answer::text(
                        Intent::AppointmentsBooked,
                        self.t(locale, "appointments-booked", &[]),
                    )
                    .card(
                        CardKind::Booked,
                        self.t(locale, "booked-title", &[]),
                        vec![self.appointment_item(locale, &a, Vec::new())],
                        Vec::new(),
                    )
                }
                Err(e) => self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
            },
            Offer::ConfirmMove { from, to } => {
                match self
                    .records
                    .reschedule(who, &patient.id, &from.id, &to.id)
                    .await
                {
                    Ok(a) => {
                        let a = a.into_inner();
                        Answer::text(
                            Intent::AppointmentsRescheduled,
                            self.t(locale, "appointments-rescheduled", &[]),
                        )
                        .card(
                            CardKind::Booked,
                            self.t(locale, "moved-title", &[]),
                            vec![self.appointment_item(locale, &a, Vec::new())],
                            Vec::new(),
                        )
                    }
                    Err(e) => self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
                }
            }
            Offer::PickCancel(a) => {
                let actions = confirm(
                    state,
                    "button-yes-cancel",
                    Offer::ConfirmCancel(a.clone()),
                    "button-no-keep",
                );
                Answer::text(
                    Intent::AppointmentsConfirm,
                    self.t(locale, "appointments-confirm", &[]),
                )
                .card(
                    CardKind::Confirm,
                    self.t(locale, "confirm-cancel-title", &[]),
                    vec![self.appointment_item(locale, &a, Vec::new())],
                    actions,
                )
            }
            Offer::ConfirmCancel(a) => match self.records.cancel(who, &patient.id, &a.id).await {
                Ok(()) => Answer::text(
                    Intent::AppointmentsCancelled,
                    self.t(locale, "appointments-cancelled", &[]),
                )
                .card(
                    CardKind::Cancelled,
                    self.t(locale, "cancelled-title", &[]),
                    vec![self.appointment_item(locale, &a, Vec::new())],
                    Vec::new(),
                ),
                Err(e) => self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
            },
            Offer::PickMove(a, request) => {
                let practitioners = match self.records.practitioners().await {
                    Ok(p) => p,
                    Err(e) => return self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
                };
                let today = self.clock.now().with_timezone(&self.tz).date_naive();
                let mut wish = booking::understand(request.expose(), &practitioners, today);
                wish.practitioner_id
                    .get_or_insert_with(|| a.practitioner_id.clone());
                wish.service.get_or_insert_with(|| a.service.clone());
                self.offer_slots(state, wish, Some(a), Retry::Offer(Box::new(offer)))
                    .await
            }
        }
    }
}
