//! What a verified patient asked for: their appointments (to see, cancel or
//! move), a booking, lab status, refills; and the card lines that show
//! them, with dates in the patient's language. Every read goes through
//! [`crate::records`], which audits it.

use carechat_language::lang::Locale;
use protocol::vocab::{CardKind, Intent};
use protocol::{CardAction, CardItem};

use super::answer::Answer;
use super::state::{ChatState, Offer, Retry, Task};
use super::{Conversation, Turn};
use crate::booking;
use crate::ehr::{Appointment, EhrError, LabStatus, PatientMatch, RefillStatus, Slot};
use crate::i18n::Arg;
use crate::phi::Phi;
use crate::records::RecordsError;

impl Conversation {
    /// Does what a verified patient asked for.
    pub(super) async fn run(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        patient: &PatientMatch,
        task: Task,
    ) -> Answer {
        let locale = state.locale;
        let now = self.clock.now();
        let who = &turn.who;
        match &task {
            Task::Appointments | Task::Cancel | Task::Reschedule(_) => {
                let list = match self.records.upcoming(who, &patient.id, now).await {
                    Ok(list) => list.into_inner(),
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task)),
                };
                if list.is_empty() {
                    return Answer::text(
                        Intent::AppointmentsNone,
                        self.t(locale, "appointments-none", &[]),
                    );
                }
                let (intent, key) = match &task {
                    Task::Cancel => (Intent::AppointmentsCancel, "appointments-cancel"),
                    Task::Reschedule(_) => {
                        (Intent::AppointmentsReschedule, "appointments-reschedule")
                    }
                    _ => (Intent::AppointmentsList, "appointments-list"),
                };
                let items = list
                    .iter()
                    .map(|a| {
                        let actions = match &task {
                            Task::Cancel => vec![state.offer(
                                self.t(locale, "button-cancel-this", &[]),
                                Offer::PickCancel(a.clone()),
                            )],
                            Task::Reschedule(wish) => vec![state.offer(
                                self.t(locale, "button-move-this", &[]),
                                Offer::PickMove(a.clone(), wish.clone()),
                            )],
                            _ => vec![
                                state.offer(
                                    self.t(locale, "button-reschedule", &[]),
                                    Offer::PickMove(a.clone(), Phi::new(String::new())),
                                ),
                                state.offer(
                                    self.t(locale, "button-cancel", &[]),
                                    Offer::PickCancel(a.clone()),
                                ),
                            ],
                        };
                        self.appointment_item(locale, a, actions)
                    })
                    .collect();
                Answer::text(intent, self.t(locale, key, &[])).card(
                    CardKind::Appointments,
                    self.t(locale, &format!("{key}-title"), &[]),
                    items,
                    Vec::new(),
                )
            }
            Task::Book(request) => {
                let practitioners = match self.records.practitioners().await {
                    Ok(p) => p,
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task.clone())),
                };
                let today = now.with_timezone(&self.tz).date_naive();
                let wish = booking::understand(request.expose(), &practitioners, today);
                self.offer_slots(state, wish, None, Retry::Task(task.clone()))
                    .await
            }
            Task::Labs => {
                let orders = match self.records.lab_orders(who, &patient.id).await {
                    Ok(o) => o.into_inner(),
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task)),
                };
                if orders.is_empty() {
                    return Answer::text(Intent::LabsNone, self.t(locale, "labs-none", &[]));
                }
                let ready = orders
                    .iter()
                    .filter(|o| o.status == LabStatus::Ready)
                    .count();
                let pending = orders.len() - ready;
                let mut parts = Vec::new();
                if ready > 0 {
                    parts.push(self.t(locale, "labs-status-ready", &[("ready", Arg::from(ready))]));
                }
                if pending > 0 {
                    parts.push(self.t(
                        locale,
                        "labs-status-pending",
                        &[("pending", Arg::from(pending))],
                    ));
                }
                let text = parts.join(" ");
                let items = orders
                    .iter()
                    .map(|o| CardItem {
                        title: o.name.clone(),
                        detail: match (o.status, o.ordered) {
                            (LabStatus::Ready, _) => self.t(locale, "lab-ready", &[]),
                            (LabStatus::Pending, Some(d)) => {
                                let date = booking::short_date(d, locale);
                                self.t(locale, "lab-pending-since", &[("date", Arg::from(&date))])
                            }
                            (LabStatus::Pending, None) => self.t(locale, "lab-pending", &[]),
                        },
                        actions: Vec::new(),
                    })
                    .collect();
                Answer::text(Intent::LabsStatus, text).card(
                    CardKind::Labs,
                    self.t(locale, "labs-title", &[]),
                    items,
                    Vec::new(),
                )
            }
            Task::Refills => {
                let refills = match self.records.refills(who, &patient.id).await {
                    Ok(r) => r.into_inner(),
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task)),
                };
                if refills.is_empty() {
                    return Answer::text(Intent::RefillsNone, self.t(locale, "refills-none", &[]));
                }
                let items = refills
                    .iter()
                    .map(|r| CardItem {
                        title: r.medication.clone(),
                        detail: self.t(
                            locale,
                            match r.status {
                                RefillStatus::Active => "refill-active",
                                RefillStatus::OnHold => "refill-on-hold",
                                RefillStatus::Completed => "refill-completed",
                                RefillStatus::Stopped => "refill-stopped",
                                RefillStatus::Pending => "refill-pending",
                            },
                            &[],
                        ),
                        actions: Vec::new(),
                    })
                    .collect();
                Answer::text(Intent::RefillsStatus, self.t(locale, "refills-status", &[])).card(
                    CardKind::Refills,
                    self.t(locale, "refills-title", &[]),
                    items,
                    Vec::new(),
                )
            }
        }
    }

    /// What the patient is told when the EHR could not do something; "try
    /// again" repeats `retry` when it was unavailable. When the audit event
    /// could not be written nothing is shown and there is no "try again":
    /// the patient is asked to call the clinic.
    pub(super) fn ehr_failed(
        &self,
        state: &mut ChatState,
        e: impl Into<RecordsError>,
        retry: Retry,
    ) -> Answer {
        let locale = state.locale;
        let e = match e.into() {
            RecordsError::Ehr(e) => e,
            RecordsError::NotRecorded => {
                return Answer::text(
                    Intent::EhrError,
                    self.t(locale, "records-not-recorded", &[]),
                )
            }
        };
        match e {
            EhrError::Unavailable(_) => {
                state.retry = Some(retry);
                Answer::text(
                    Intent::EhrUnavailable,
                    self.t(locale, "ehr-unavailable", &[]),
                )
            }
            EhrError::NotFound => {
                Answer::text(Intent::EhrNotFound, self.t(locale, "ehr-not-found", &[]))
            }
            EhrError::Conflict(_) => Answer::text(
                Intent::AppointmentsSlotTaken,
                self.t(locale, "appointments-slot-taken", &[]),
            ),
            EhrError::Rejected(_) => {
                Answer::text(Intent::EhrError, self.t(locale, "ehr-error", &[]))
            }
        }
    }

    pub(super) fn appointment_item(
        &self,
        locale: Locale,
        a: &Appointment,
        actions: Vec<CardAction>,
    ) -> CardItem {
        let (start, who, service, place) = (a.start, &a.practitioner_name, &a.service, &a.location);
        self.visit_item(locale, start, who, service, place, actions)
    }

    pub(super) fn slot_item(&self, locale: Locale, s: &Slot, actions: Vec<CardAction>) -> CardItem {
        let (start, who, service, place) = (s.start, &s.practitioner_name, &s.service, &s.location);
        self.visit_item(locale, start, who, service, place, actions)
    }

    /// A card line for a visit: "Tue, Dec 1 · 2:30 PM" over "Dr. Anika
    /// Patel · Checkup · Maple Grove Family Clinic".
    fn visit_item(
        &self,
        locale: Locale,
        start: chrono::DateTime<chrono::Utc>,
        practitioner: &str,
        service: &str,
        location: &str,
        actions: Vec<CardAction>,
    ) -> CardItem {
        let key = booking::service_key(service);
        let service = if self.catalog.has(locale, &key) {
            self.t(locale, &key, &[])
        } else {
            service.replace('-', " ")
        };
        CardItem {
            title: booking::when(start, self.tz, locale),
            detail: format!("{practitioner} · {service} · {location}"),
            actions,
        }
    }
}
