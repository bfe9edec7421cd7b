//! The embedded demo EHR: deterministic synthetic patients, practitioners,
//! schedules, lab orders and prescriptions, held in memory.
//!
//! It is the default [`Ehr`], so the demo clinic works on a fresh machine
//! with no EHR at all. Everything in it is obviously fictional: names like
//! "Morgan Sample", phone numbers in the reserved 555-01xx range,
//! `example.com` email addresses.
//!
//! Schedules are generated relative to the clinic's local "today" when the
//! [`DemoEhr`] is created: weekdays 08:00–17:00 in 30-minute slots for the
//! next six weeks, for three practitioners at one location, about one slot
//! in five busy. Booking marks a slot busy and cancelling frees it again;
//! the state lives behind a mutex and is lost on restart.
//!
//! # The demo patients
//! | Patient | Born | MRN | Phone | What they have |
//! |---|---|---|---|---|
//! | **Morgan Sample** (the main demo patient) | 1984-03-02 | `MGFC-100234` | +1 202 555 0101 | 2 upcoming appointments (checkup with Dr. Patel, follow-up with Dr. Chen), a lipid panel ready, a metabolic panel pending, lisinopril active, atorvastatin on hold |
//! | Casey Exámple | 1991-07-15 | — | +1 202 555 0102 | no upcoming appointments, one completed prescription |
//! | Jesse Sampleton | 1962-01-20 | — | +1 202 555 0103 | 1 upcoming appointment (sick visit with Jordan Okafor, NP), a CBC pending |
//! | Jamie Sampleton | 2001-09-05 | — | +1 202 555 0104 | nothing booked (same family name as Jesse, other birth date) |
//! | Quinn Doubleday | 2012-06-18 | `MGFC-100871` | +1 202 555 0105 | a twin: same family name and birth date as Reese, so only the MRN tells them apart |
//! | Reese Doubleday | 2012-06-18 | `MGFC-100872` | +1 202 555 0106 | Quinn's twin |

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use super::{
    fold_name, Appointment, Ehr, EhrError, LabOrder, LabStatus, PatientId, PatientMatch,
    PatientQuery, Practitioner, Refill, RefillStatus, Slot, SlotQuery,
};
use crate::clock::Clock;
use crate::phi::Phi;

/// The demo clinic's one location.
pub const LOCATION_ID: &str = "Location/maple-grove";
/// Its display name.
pub const LOCATION_NAME: &str = "Maple Grove Family Clinic";
/// The main demo patient's id (Morgan Sample, born 1984-03-02).
pub const MAIN_PATIENT_ID: &str = "Patient/morgan-sample";

/// How many weeks of slots the demo schedules hold.
const WEEKS: u64 = 6;
/// Slot length.
const SLOT_MINUTES: i64 = 30;
/// First and last slot start of a day, local time (08:00 .. 16:30).
const DAY_START_HOUR: u32 = 8;
const SLOTS_PER_DAY: u32 = 18;

struct DemoPatient {
    id: &'static str,
    given: &'static str,
    family: &'static str,
    birth_date: (i32, u32, u32),
    mrn: Option<&'static str>,
    phone: &'static str,
    email: &'static str,
}

const PATIENTS: &[DemoPatient] = &[
    DemoPatient {
        id: MAIN_PATIENT_ID,
        given: "Morgan",
        family: "Sample",
        birth_date: (1984, 3, 2),
        mrn: Some("MGFC-100234"),
        phone: "+12025550101",
        email: "morgan.sample@example.com",
    },
    DemoPatient {
        id: "Patient/casey-example",
        given: "Casey",
        family: "Exámple",
        birth_date: (1991, 7, 15),
        mrn: None,
        phone: "+12025550102",
        email: "casey.example@example.com",
    },
    DemoPatient {
        id: "Patient/jesse-sampleton",
        given: "Jesse",
        family: "Sampleton",
        birth_date: (1962, 1, 20),
        mrn: None,
        phone: "+12025550103",
        email: "jesse.sampleton@example.com",
    },
    DemoPatient {
        id: "Patient/jamie-sampleton",
        given: "Jamie",
        family: "Sampleton",
        birth_date: (2001, 9, 5),
        mrn: None,
        phone: "+12025550104",
        email: "jamie.sampleton@example.com",
    },
    DemoPatient {
        id: "Patient/quinn-doubleday",
        given: "Quinn",
        family: "Doubleday",
        birth_date: (2012, 6, 18),
        mrn: Some("MGFC-100871"),
        phone: "+12025550105",
        email: "doubleday.family@example.com",
    },
    DemoPatient {
        id: "Patient/reese-doubleday",
        given: "Reese",
        family: "Doubleday",
        birth_date: (2012, 6, 18),
        mrn: Some("MGFC-100872"),
        phone: "+12025550106",
        email: "doubleday.family@example.com",
    },
];

fn practitioners() -> Vec<Practitioner> {
    let make = |id: &str, name: &str, family: &str, services: &[&str]| Practitioner {
        id: id.to_owned(),
        name: name.to_owned(),
        family: family.to_owned(),
        services: services.iter().map(|s| (*s).to_owned()).collect(),
    };
    vec![
        make(
            "Practitioner/anika-patel",
            "Dr. Anika Patel",
            "Patel",
            &["checkup", "sick-visit", "follow-up"],
        ),
        make(
            "Practitioner/marcus-chen",
            "Dr. Marcus Chen",
            "Chen",
            &["checkup", "follow-up", "vaccination"],
        ),
        make(
            "Practitioner/jordan-okafor",
            "Jordan Okafor, NP",
            "Okafor",
            &["sick-visit", "vaccination", "follow-up"],
        ),
    ]
}

#[derive(Debug, Clone)]
struct SlotState {
    slot: Slot,
    busy: bool,
}

#[derive(Debug, Clone)]
struct AppointmentState {
    patient: &'static str,
    appointment: Appointment,
}

#[derive(Debug, Clone)]
struct LabState {
    patient: &'static str,
    order: LabOrder,
}

#[derive(Debug, Clone)]
struct RefillState {
    patient: &'static str,
    refill: Refill,
}

struct State {
    /// By id; ids sort by practitioner, then time.
    slots: BTreeMap<String, SlotState>,
    appointments: Vec<AppointmentState>,
    next_appointment: u32,
}

/// The embedded demo EHR. Cheap to share: wrap it in an `Arc`.
pub struct DemoEhr {
    /// Judges which slots are in the past when booking.
    clock: Arc<dyn Clock>,
    practitioners: Vec<Practitioner>,
    labs: Vec<LabState>,
    refills: Vec<RefillState>,
    state: Mutex<State>,
}

/// The instant a local wall-clock time happens (the earlier one when a
/// clock change repeats it; `None` when a change skips it).
fn at_local(tz: Tz, day: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&day.and_time(time)) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

impl DemoEhr {
    /// The demo EHR, with schedules starting on the clinic's local today
    /// (by `clock`, in `tz`).
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>, tz: Tz) -> Self {
        let now = clock.now();
        let today = now.with_timezone(&tz).date_naive();
        let practitioners = practitioners();
        let mut slots = BTreeMap::new();
        for (p_index, practitioner) in practitioners.iter().enumerate() {
            let key = practitioner.id.trim_start_matches("Practitioner/");
            for day_index in 0..WEEKS * 7 {
                let Some(day) = today.checked_add_days(Days::new(day_index)) else {
                    continue;
                };
                if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                    continue;
                }
                for s in 0..SLOTS_PER_DAY {
                    let minutes = DAY_START_HOUR * 60 + s * 30;
                    let Some(time) = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0) else {
                        continue;
                    };
                    let Some(start) = at_local(tz, day, time) else {
                        continue;
                    };
                    let service_count = practitioner.services.len().max(1);
                    let service = practitioner
                        .services
                        .get((s as usize + day_index as usize) % service_count)
                        .cloned()
                        .unwrap_or_default();
                    let id = format!("Slot/{key}-{}-{minutes:04}", day.format("%Y%m%d"));
                    // About one slot in five is already taken, the same ones
                    // every time.
                    let busy = (day_index as usize * 7 + s as usize * 3 + p_index * 11) % 5 == 0;
                    slots.insert(
                        id.clone(),
                        SlotState {
                            slot: Slot {
                                id,
                                start,
                                end: start + Duration::minutes(SLOT_MINUTES),
                                practitioner_id: practitioner.id.clone(),
                                practitioner_name: practitioner.name.clone(),
                                service,
                                location_id: LOCATION_ID.to_owned(),
                                location: LOCATION_NAME.to_owned(),
                            },
                            busy,
                        },
                    );
                }
            }
        }
        let mut state = State {
            slots,
            appointments: Vec::new(),
            next_appointment: 1,
        };
        // Morgan Sample: a checkup with Dr. Patel in a few days and a
        // follow-up with Dr. Chen in about two weeks. Jesse Sampleton: a
        // sick visit with Jordan Okafor.
        let seeded = [
            (
                MAIN_PATIENT_ID,
                "Practitioner/anika-patel",
                "checkup",
                3,
                10,
            ),
            (
                MAIN_PATIENT_ID,
                "Practitioner/marcus-chen",
                "follow-up",
                14,
                14,
            ),
            (
                "Patient/jesse-sampleton",
                "Practitioner/jordan-okafor",
                "sick-visit",
                5,
                9,
            ),
        ];
        for (patient, practitioner, service, days_ahead, hour) in seeded {
            let earliest = at_local(
                tz,
                today + Days::new(days_ahead),
                NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN),
            )
            .unwrap_or(now);
            let found = state
                .slots
                .values()
                .filter(|s| {
                    !s.busy
                        && s.slot.practitioner_id == practitioner
                        && s.slot.service == service
                        && s.slot.start >= earliest
                })
                .min_by_key(|s| s.slot.start)
                .map(|s| s.slot.id.clone());
            if let Some(slot_id) = found {
                let _ = book_locked(&mut state, patient, &slot_id, now);
            }
        }
        // A past appointment of Casey's: it must never show as upcoming.
        state.appointments.push(AppointmentState {
            patient: "Patient/casey-example",
            appointment: Appointment {
                id: "Appointment/casey-past".to_owned(),
                start: now - Duration::days(20),
                end: now - Duration::days(20) + Duration::minutes(SLOT_MINUTES),
                practitioner_id: "Practitioner/marcus-chen".to_owned(),
                practitioner_name: "Dr. Marcus Chen".to_owned(),
                location: LOCATION_NAME.to_owned(),
                service: "checkup".to_owned(),
                slot_id: None,
                status: "fulfilled".to_owned(),
            },
        });
        let ordered = |days: u64| today.checked_sub_days(Days::new(days));
        let lab = |patient, id: &str, name: &str, days, status| LabState {
            patient,
            order: LabOrder {
                id: id.to_owned(),
                name: name.to_owned(),
                ordered: ordered(days),
                status,
            },
        };
        let labs = vec![
            lab(
                MAIN_PATIENT_ID,
                "ServiceRequest/morgan-lipid-panel",
                "Lipid panel",
                12,
                LabStatus::Ready,
            ),
            lab(
                MAIN_PATIENT_ID,
                "ServiceRequest/morgan-metabolic-panel",
                "Comprehensive metabolic panel",
                2,
                LabStatus::Pending,
            ),
            lab(
                "Patient/jesse-sampleton",
                "ServiceRequest/jesse-cbc",
                "Complete blood count",
                1,
                LabStatus::Pending,
            ),
        ];
        let refill = |patient, id: &str, medication: &str, status| RefillState {
            patient,
            refill: Refill {
                id: id.to_owned(),
                medication: medication.to_owned(),
                status,
            },
        };
        let refills = vec![
            refill(
                MAIN_PATIENT_ID,
                "MedicationRequest/morgan-lisinopril",
                "Lisinopril 10 mg tablet",
                RefillStatus::Active,
            ),
            refill(
                MAIN_PATIENT_ID,
                "MedicationRequest/morgan-atorvastatin",
                "Atorvastatin 20 mg tablet",
                RefillStatus::OnHold,
            ),
            refill(
                "Patient/casey-example",
                "MedicationRequest/casey-amoxicillin",
                "Amoxicillin 500 mg capsule",
                RefillStatus::Completed,
            ),
        ];
        Self {
            clock,
            practitioners,
            labs,
            refills,
            state: Mutex::new(state),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Books `slot_id` for `patient` on the locked state.
fn book_locked(
    state: &mut State,
    patient: &'static str,
    slot_id: &str,
    now: DateTime<Utc>,
) -> Result<Appointment, EhrError> {
    let slot = state.slots.get_mut(slot_id).ok_or(EhrError::NotFound)?;
    if slot.busy || slot.slot.start < now {
        return Err(EhrError::Conflict("the slot is no longer free".into()));
    }
    slot.busy = true;
    let s = &slot.slot;
    let appointment = Appointment {
        id: format!("Appointment/demo-{}", state.next_appointment),
        start: s.start,
        end: s.end,
        practitioner_id: s.practitioner_id.clone(),
        practitioner_name: s.practitioner_name.clone(),
        location: s.location.clone(),
        service: s.service.clone(),
        slot_id: Some(s.id.clone()),
        status: "booked".to_owned(),
    };
    state.next_appointment += 1;
    state.appointments.push(AppointmentState {
        patient,
        appointment: appointment.clone(),
    });
    Ok(appointment)
}

/// Cancels one of `patient`'s booked appointments on the locked state.
fn cancel_locked(state: &mut State, patient: &str, appointment_id: &str) -> Result<(), EhrError> {
    let entry = state
        .appointments
        .iter_mut()
        .find(|a| a.patient == patient && a.appointment.id == appointment_id)
        .ok_or(EhrError::NotFound)?;
    if entry.appointment.status == "cancelled" {
        return Ok(());
    }
    if entry.appointment.status != "booked" {
        return Err(EhrError::Conflict(
            "the appointment is no longer booked".into(),
        ));
    }
    entry.appointment.status = "cancelled".to_owned();
    if let Some(slot_id) = entry.appointment.slot_id.clone() {
        if let Some(slot) = state.slots.get_mut(&slot_id) {
            slot.busy = false;
        }
    }
    Ok(())
}

/// The `&'static` id of a known patient, so the state can hold it.
fn known_patient(patient: &PatientId) -> Result<&'static str, EhrError> {
    PATIENTS
        .iter()
        .find(|p| p.id == patient.0)
        .map(|p| p.id)
        .ok_or(EhrError::NotFound)
}

#[async_trait::async_trait]
impl Ehr for DemoEhr {
    async fn find_patient(&self, query: &PatientQuery) -> Result<Option<PatientMatch>, EhrError> {
        let family = fold_name(query.family.expose());
        let identifier = query.identifier.as_ref().map(|i| i.expose().trim());
        let mut found = PATIENTS.iter().filter(|p| {
            NaiveDate::from_ymd_opt(p.birth_date.0, p.birth_date.1, p.birth_date.2)
                .is_some_and(|d| d == *query.birth_date.expose())
                && fold_name(p.family) == family
                && identifier.is_none_or(|want| p.mrn == Some(want))
        });
        let (Some(patient), None) = (found.next(), found.next()) else {
            return Ok(None);
        };
        Ok(Some(PatientMatch {
            id: PatientId(patient.id.to_owned()),
            phone: Some(Phi::new(patient.phone.to_owned())),
            email: Some(Phi::new(patient.email.to_owned())),
            given_name: Phi::new(patient.given.to_owned()),
        }))
    }

    async fn upcoming_appointments(
        &self,
        patient: &PatientId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Appointment>, EhrError> {
        let mut list: Vec<Appointment> = self
            .state()
            .appointments
            .iter()
            .filter(|a| {
                a.patient == patient.0
                    && a.appointment.status == "booked"
                    && a.appointment.start >= now
            })
            .map(|a| a.appointment.clone())
            .collect();
        list.sort_by_key(|a| a.start);
        Ok(list)
    }

    async fn practitioners(&self) -> Result<Vec<Practitioner>, EhrError> {
        Ok(self.practitioners.clone())
    }

    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<Slot>, EhrError> {
        let mut list: Vec<Slot> = self
            .state()
            .slots
            .values()
            .filter(|s| {
                !s.busy
                    && s.slot.start >= query.from
                    && s.slot.start < query.to
                    && query
                        .practitioner_id
                        .as_ref()
                        .is_none_or(|p| *p == s.slot.practitioner_id)
                    && query.service.as_ref().is_none_or(|x| *x == s.slot.service)
            })
            .map(|s| s.slot.clone())
            .collect();
        list.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(list)
    }

    async fn book(&self, patient: &PatientId, slot_id: &str) -> Result<Appointment, EhrError> {
        let patient = known_patient(patient)?;
        book_locked(&mut self.state(), patient, slot_id, self.clock.now())
    }

    async fn cancel(&self, patient: &PatientId, appointment_id: &str) -> Result<(), EhrError> {
        cancel_locked(&mut self.state(), &patient.0, appointment_id)
    }

    async fn reschedule(
        &self,
        patient: &PatientId,
        appointment_id: &str,
        new_slot_id: &str,
    ) -> Result<Appointment, EhrError> {
        let patient_id = known_patient(patient)?;
        let mut state = self.state();
        let old = state
            .appointments
            .iter()
            .find(|a| a.patient == patient_id && a.appointment.id == appointment_id)
            .ok_or(EhrError::NotFound)?;
        if old.appointment.status != "booked" {
            return Err(EhrError::Conflict(
                "the appointment is no longer booked".into(),
            ));
        }
        // Under one lock, so booking then cancelling cannot fail halfway.
        let new = book_locked(&mut state, patient_id, new_slot_id, self.clock.now())?;
        cancel_locked(&mut state, patient_id, appointment_id)?;
        Ok(new)
    }

    async fn lab_orders(&self, patient: &PatientId) -> Result<Vec<LabOrder>, EhrError> {
        Ok(self
            .labs
            .iter()
            .filter(|l| l.patient == patient.0)
            .map(|l| l.order.clone())
            .collect())
    }

    async fn refills(&self, patient: &PatientId) -> Result<Vec<Refill>, EhrError> {
        Ok(self
            .refills
            .iter()
            .filter(|r| r.patient == patient.0)
            .map(|r| r.refill.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::clock::ManualClock;

    /// Wednesday 2026-11-18, 09:15 in New York.
    fn start() -> DateTime<Utc> {
        "2026-11-18T14:15:00Z".parse().unwrap()
    }

    fn demo() -> DemoEhr {
        DemoEhr::new(
            Arc::new(ManualClock::new(start())),
            chrono_tz::America::New_York,
        )
    }

    fn query(dob: &str, family: &str, mrn: Option<&str>) -> PatientQuery {
        PatientQuery {
            birth_date: Phi::new(dob.parse().unwrap()),
            family: Phi::new(family.to_owned()),
            identifier: mrn.map(|m| Phi::new(m.to_owned())),
        }
    }

    fn main_patient() -> PatientId {
        PatientId(MAIN_PATIENT_ID.to_owned())
    }

    fn far() -> SlotQuery {
        SlotQuery {
            from: start(),
            to: start() + Duration::days(60),
            ..SlotQuery::default()
        }
    }

    #[tokio::test]
    async fn the_main_demo_patient_is_found_by_birth_date_and_family_name() {
        let ehr = demo();
        let found = ehr
            .find_patient(&query("1984-03-02", "  SAMPLE ", None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, main_patient());
        assert_eq!(found.given_name.expose(), "Morgan");
        assert_eq!(found.phone.unwrap().expose(), "+12025550101");
        assert!(found.email.unwrap().expose().ends_with("@example.com"));
        let with_mrn = ehr
            .find_patient(&query("1984-03-02", "sample", Some("MGFC-100234")))
            .await
            .unwrap();
        assert!(with_mrn.is_some());
    }

    #[tokio::test]
    async fn matching_needs_every_detail_exactly() {
        let ehr = demo();
        for q in [
            query("1984-03-03", "Sample", None),
            query("1984-03-02", "Samples", None),
            query("1984-03-02", "Sampl", None),
            query("1984-03-02", "Sample", Some("MGFC-100235")),
            query("1962-01-20", "Sampleton", Some("MGFC-100234")),
        ] {
            assert!(ehr.find_patient(&q).await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn family_names_match_without_diacritics_or_case() {
        let ehr = demo();
        for typed in ["Exámple", "example", "EXAMPLE", " exa\u{301}mple "] {
            let found = ehr
                .find_patient(&query("1991-07-15", typed, None))
                .await
                .unwrap();
            assert_eq!(
                found.map(|f| f.id.0).as_deref(),
                Some("Patient/casey-example"),
                "{typed:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_shared_family_name_is_told_apart_by_birth_date() {
        let ehr = demo();
        let jesse = ehr
            .find_patient(&query("1962-01-20", "sampleton", None))
            .await
            .unwrap()
            .unwrap();
        let jamie = ehr
            .find_patient(&query("2001-09-05", "sampleton", None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(jesse.given_name.expose(), "Jesse");
        assert_eq!(jamie.given_name.expose(), "Jamie");
    }

    #[tokio::test]
    async fn twins_match_nobody_without_their_mrn() {
        let ehr = demo();
        assert!(ehr
            .find_patient(&query("2012-06-18", "Doubleday", None))
            .await
            .unwrap()
            .is_none());
        let quinn = ehr
            .find_patient(&query("2012-06-18", "Doubleday", Some("MGFC-100871")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(quinn.given_name.expose(), "Quinn");
    }

    #[tokio::test]
    async fn the_main_patient_has_two_upcoming_appointments_soonest_first() {
        let ehr = demo();
        let list = ehr
            .upcoming_appointments(&main_patient(), start())
            .await
            .unwrap();
        assert_eq!(list.len(), 2);
        assert!(list[0].start < list[1].start);
        assert!(list[0].start > start());
        assert_eq!(list[0].practitioner_name, "Dr. Anika Patel");
        assert_eq!(list[0].service, "checkup");
        assert_eq!(list[1].practitioner_name, "Dr. Marcus Chen");
        assert!(list
            .iter()
            .all(|a| a.status == "booked" && a.location == LOCATION_NAME && a.slot_id.is_some()));
        let casey = PatientId("Patient/casey-example".into());
        assert!(ehr
            .upcoming_appointments(&casey, start())
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn schedules_cover_weekday_office_hours_for_six_weeks_local_time() {
        let ehr = demo();
        let slots = ehr.free_slots(&far()).await.unwrap();
        assert!(slots.len() > 1000, "{}", slots.len());
        let tz = chrono_tz::America::New_York;
        for slot in &slots {
            let local = slot.start.with_timezone(&tz);
            assert!(!matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
            let minutes = local.hour_min();
            assert!((8 * 60..=16 * 60 + 30).contains(&minutes), "{local}");
            assert_eq!(slot.end - slot.start, Duration::minutes(30));
            assert_eq!(slot.location, LOCATION_NAME);
        }
        assert!(slots.windows(2).all(|w| w[0].start <= w[1].start));
        let last = slots.last().unwrap().start;
        assert!(last > start() + Duration::days(38), "{last}");
        // Some are deterministically busy.
        let all_slots = ehr.state().slots.len();
        assert!(all_slots > slots.len() + 200);
        assert_eq!(demo().free_slots(&far()).await.unwrap(), slots);
    }

    trait HourMin {
        fn hour_min(&self) -> u32;
    }
    impl HourMin for DateTime<Tz> {
        fn hour_min(&self) -> u32 {
            use chrono::Timelike;
            self.hour() * 60 + self.minute()
        }
    }

    #[tokio::test]
    async fn slots_filter_by_practitioner_service_and_range() {
        let ehr = demo();
        let patel = SlotQuery {
            practitioner_id: Some("Practitioner/anika-patel".into()),
            service: Some("checkup".into()),
            from: start(),
            to: start() + Duration::days(7),
        };
        let slots = ehr.free_slots(&patel).await.unwrap();
        assert!(slots.len() >= 3);
        assert!(slots
            .iter()
            .all(|s| s.practitioner_name == "Dr. Anika Patel"
                && s.service == "checkup"
                && s.start >= patel.from
                && s.start < patel.to));
        let okafor_checkups = SlotQuery {
            practitioner_id: Some("Practitioner/jordan-okafor".into()),
            service: Some("checkup".into()),
            ..far()
        };
        assert!(ehr.free_slots(&okafor_checkups).await.unwrap().is_empty());
        let names: Vec<_> = ehr
            .practitioners()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.family)
            .collect();
        assert_eq!(names, ["Patel", "Chen", "Okafor"]);
    }

    #[tokio::test]
    async fn booking_takes_the_slot_and_cancelling_frees_it() {
        let ehr = demo();
        let me = main_patient();
        let slot = ehr.free_slots(&far()).await.unwrap().remove(0);
        let booked = ehr.book(&me, &slot.id).await.unwrap();
        assert_eq!(booked.slot_id.as_deref(), Some(slot.id.as_str()));
        assert_eq!(
            (booked.start, booked.status.as_str()),
            (slot.start, "booked")
        );
        assert!(!ehr.free_slots(&far()).await.unwrap().contains(&slot));
        let again = ehr
            .book(&PatientId("Patient/jamie-sampleton".into()), &slot.id)
            .await;
        assert!(matches!(again, Err(EhrError::Conflict(_))), "{again:?}");
        assert_eq!(
            ehr.upcoming_appointments(&me, start()).await.unwrap().len(),
            3
        );
        ehr.cancel(&me, &booked.id).await.unwrap();
        assert!(ehr.free_slots(&far()).await.unwrap().contains(&slot));
        assert_eq!(
            ehr.upcoming_appointments(&me, start()).await.unwrap().len(),
            2
        );
        // Cancelling twice is harmless.
        ehr.cancel(&me, &booked.id).await.unwrap();
    }

    #[tokio::test]
    async fn a_busy_or_unknown_slot_cannot_be_booked() {
        let ehr = demo();
        let busy = ehr
            .state()
            .slots
            .values()
            .find(|s| s.busy)
            .map(|s| s.slot.id.clone())
            .unwrap();
        assert!(matches!(
            ehr.book(&main_patient(), &busy).await,
            Err(EhrError::Conflict(_))
        ));
        assert!(matches!(
            ehr.book(&main_patient(), "Slot/nope").await,
            Err(EhrError::NotFound)
        ));
        let slot = ehr.free_slots(&far()).await.unwrap().remove(0);
        assert!(matches!(
            ehr.book(&PatientId("Patient/nobody".into()), &slot.id)
                .await,
            Err(EhrError::NotFound)
        ));
    }

    #[tokio::test]
    async fn another_patients_appointment_is_not_found() {
        let ehr = demo();
        let jesse = PatientId("Patient/jesse-sampleton".into());
        let theirs = ehr
            .upcoming_appointments(&jesse, start())
            .await
            .unwrap()
            .remove(0);
        let slot = ehr.free_slots(&far()).await.unwrap().remove(0);
        let me = main_patient();
        assert!(matches!(
            ehr.cancel(&me, &theirs.id).await,
            Err(EhrError::NotFound)
        ));
        assert!(matches!(
            ehr.reschedule(&me, &theirs.id, &slot.id).await,
            Err(EhrError::NotFound)
        ));
        // Nothing changed for either of them.
        assert_eq!(
            ehr.upcoming_appointments(&jesse, start()).await.unwrap(),
            [theirs]
        );
        assert!(ehr.free_slots(&far()).await.unwrap().contains(&slot));
    }

    #[tokio::test]
    async fn rescheduling_moves_the_appointment_and_frees_the_old_slot() {
        let ehr = demo();
        let me = main_patient();
        let old = ehr
            .upcoming_appointments(&me, start())
            .await
            .unwrap()
            .remove(0);
        let new_slot = ehr.free_slots(&far()).await.unwrap().remove(3);
        let moved = ehr.reschedule(&me, &old.id, &new_slot.id).await.unwrap();
        assert_eq!(moved.start, new_slot.start);
        let list = ehr.upcoming_appointments(&me, start()).await.unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|a| a.id != old.id));
        let freed = ehr.free_slots(&far()).await.unwrap();
        assert!(freed.iter().any(|s| Some(&s.id) == old.slot_id.as_ref()));
        // A taken target leaves the old appointment alone.
        let taken = moved.slot_id.clone().unwrap();
        let other = list.iter().find(|a| a.id != moved.id).unwrap();
        assert!(matches!(
            ehr.reschedule(&me, &other.id, &taken).await,
            Err(EhrError::Conflict(_))
        ));
        assert_eq!(ehr.upcoming_appointments(&me, start()).await.unwrap(), list);
    }

    #[tokio::test]
    async fn labs_and_refills_of_the_main_patient() {
        let ehr = demo();
        let labs = ehr.lab_orders(&main_patient()).await.unwrap();
        let statuses: Vec<_> = labs.iter().map(|l| l.status).collect();
        assert_eq!(statuses, [LabStatus::Ready, LabStatus::Pending]);
        assert!(labs.iter().all(|l| l.ordered.is_some()));
        let refills = ehr.refills(&main_patient()).await.unwrap();
        let statuses: Vec<_> = refills.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [RefillStatus::Active, RefillStatus::OnHold]);
        let jamie = PatientId("Patient/jamie-sampleton".into());
        assert!(ehr.lab_orders(&jamie).await.unwrap().is_empty());
        assert!(ehr.refills(&jamie).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn every_start_day_gives_the_main_patient_two_appointments() {
        for day in 0..21 {
            let now = start() + Duration::days(day) + Duration::hours(day * 5 % 24);
            let ehr = DemoEhr::new(
                Arc::new(ManualClock::new(now)),
                chrono_tz::America::Los_Angeles,
            );
            let list = ehr
                .upcoming_appointments(&main_patient(), now)
                .await
                .unwrap();
            assert_eq!(list.len(), 2, "starting {now}");
            let jesse = PatientId("Patient/jesse-sampleton".into());
            assert_eq!(
                ehr.upcoming_appointments(&jesse, now).await.unwrap().len(),
                1
            );
        }
    }

    #[tokio::test]
    async fn the_schedule_follows_the_clinics_today() {
        let later = start() + Duration::days(100);
        let ehr = DemoEhr::new(Arc::new(ManualClock::new(later)), chrono_tz::Europe::Berlin);
        let slots = ehr
            .free_slots(&SlotQuery {
                from: later,
                to: later + Duration::days(7),
                ..SlotQuery::default()
            })
            .await
            .unwrap();
        assert!(slots.len() > 100);
        let first = slots[0].start.with_timezone(&chrono_tz::Europe::Berlin);
        assert!(first.hour_min() >= 8 * 60);
        assert_eq!(
            ehr.upcoming_appointments(&main_patient(), later)
                .await
                .unwrap()
                .len(),
            2
        );
    }
}
