//! The FHIR R4 client: the [`Ehr`] of a clinic's real EHR, over REST.
//!
//! What it reads and writes, in FHIR terms:
//! - finding a patient: `Patient?birthdate=&family=[&identifier=]`, then an
//!   exact check of each detail here (FHIR's `family` is a prefix match);
//! - appointments: `Appointment?patient=&date=ge&status=booked&_sort=date`,
//!   practitioner and location names from the participants' `display` or by
//!   reading the resources (cached);
//! - practitioners: the actors of active `Schedule`s, with the schedules'
//!   service types;
//! - free slots: `Slot?status=free&start=ge&start=lt[&schedule=][&service-type=]`,
//!   each slot's `Schedule` telling its practitioner and location;
//! - booking: a `booked` Appointment (patient, practitioner and location
//!   participants, the slot), then the Slot `busy` under `If-Match`; if
//!   someone else took the slot meanwhile the Appointment is cancelled again
//!   and the answer is [`EhrError::Conflict`];
//! - cancelling: the Appointment `cancelled` (under `If-Match`) and its Slot
//!   `free`; rescheduling books the new slot first, then cancels the old;
//! - labs: `ServiceRequest?subject=` (laboratory category) and
//!   `DiagnosticReport?based-on=`; refills: `MedicationRequest?subject=`.
//!
//! Authentication is SMART Backend Services ([`super::smart`]): one token
//! request at a time, shared by every call that needs it, never holding a
//! lock across the network (nor does anything here). Every call has a
//! time-out (`ehr.fhir.timeout_secs`, from connecting to the last byte of
//! the body); reads, updates and connection failures are retried with
//! backoff a bounded number of times (a create is retried only when it never
//! reached the server). Errors and log lines name the operation and the
//! HTTP status, never a URL: search URLs carry names and birth dates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};
use url::Url;

use super::config::FhirConfig;
use super::smart::SmartAuth;
use super::{
    fold_name, Appointment, Ehr, EhrError, LabOrder, LabStatus, PatientId, PatientMatch,
    PatientQuery, Practitioner, Refill, RefillStatus, Slot, SlotQuery,
};
use crate::clock::Clock;
use crate::phi::Phi;

/// Entries asked for per search page.
const PAGE_SIZE: &str = "200";
/// Search pages followed at most.
const MAX_PAGES: usize = 10;
/// First retry delay; doubles each time.
const BACKOFF: Duration = Duration::from_millis(200);
/// SNOMED CT "Laboratory procedure", the usual ServiceRequest category.
const LAB_CATEGORY: &str = "108252007";

/// An [`EhrError`] for a transport failure, without the URL `reqwest`
/// would put in its message.
pub(crate) fn transport_error(op: &str, error: &reqwest::Error) -> EhrError {
    if error.is_timeout() {
        EhrError::Unavailable(format!("{op}: timed out"))
    } else if error.is_connect() {
        EhrError::Unavailable(format!("{op}: cannot connect"))
    } else if error.is_decode() {
        EhrError::Rejected(format!("{op}: unreadable answer"))
    } else {
        EhrError::Unavailable(format!("{op}: transport failure"))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Put,
}

/// One REST call.
struct Call<'a> {
    /// Names the call in errors and logs.
    op: &'static str,
    method: Method,
    /// Relative to the base URL, e.g. `Slot/abc` or `Slot`.
    path: &'a str,
    query: &'a [(&'a str, String)],
    body: Option<&'a Value>,
    /// `meta.versionId` for `If-Match`.
    if_match: Option<&'a str>,
}

/// The FHIR R4 client.
pub struct FhirEhr {
    http: reqwest::Client,
    base: Url,
    auth: SmartAuth,
    clock: Arc<dyn Clock>,
    retries: u32,
    /// Schedules, practitioners and locations by reference: they change
    /// rarely and every slot and appointment names them.
    directory: Mutex<HashMap<String, Value>>,
}

impl FhirEhr {
    /// A client for the server in `config`.
    ///
    /// # Errors
    /// [`EhrError::Rejected`] when the key cannot be used or the HTTP client
    /// cannot be built.
    pub fn new(config: &FhirConfig, clock: Arc<dyn Clock>) -> Result<Self, EhrError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| EhrError::Rejected("cannot build the HTTP client".into()))?;
        Ok(Self {
            http,
            base: config.base_url.clone(),
            auth: SmartAuth::new(config)?,
            clock,
            retries: config.retries,
            directory: Mutex::new(HashMap::new()),
        })
    }

    /// Sends a call with authentication, retries and error mapping; the
    /// answer's JSON body (`Null` when empty).
    async fn send(&self, call: &Call<'_>) -> Result<Value, EhrError> {
        let mut url = url_under(&self.base, call.op, call.path)?;
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.send_url(call, url).await
    }

    async fn send_url(&self, call: &Call<'_>, url: Url) -> Result<Value, EhrError> {
        let op = call.op;
        let idempotent = call.method != Method::Post;
        let mut attempt = 0;
        let mut reauthenticated = false;
        loop {
            let retry_left = attempt < self.retries;
            let result = self.attempt(call, &url).await;
            let error = match result {
                Ok(Attempt::Done(value)) => return Ok(value),
                Ok(Attempt::Unauthorized(rejected)) if !reauthenticated => {
                    // The token expired or was revoked early: one new token
                    // (unless another call has already fetched one).
                    self.auth.invalidate(&rejected);
                    reauthenticated = true;
                    continue;
                }
                Ok(Attempt::Unauthorized(_)) => {
                    return Err(EhrError::Rejected(format!("{op}: HTTP 401")));
                }
                Ok(Attempt::ServerError(status)) => {
                    let error = EhrError::Unavailable(format!("{op}: HTTP {status}"));
                    if !idempotent {
                        return Err(error);
                    }
                    error
                }
                Err(Failure::Retryable(error)) => error,
                Err(Failure::RetryableIfIdempotent(error)) if idempotent => error,
                Err(Failure::RetryableIfIdempotent(error) | Failure::Final(error)) => {
                    return Err(error)
                }
            };
            if !retry_left {
                tracing::warn!(op, attempts = attempt + 1, error = %error, "EHR call failed");
                return Err(error);
            }
            tokio::time::sleep(BACKOFF * 2u32.pow(attempt)).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, call: &Call<'_>, url: &Url) -> Result<Attempt, Failure> {
        let op = call.op;
        // Not retried here: the token cache has its own backoff, so a
        // retry this soon would only get the same failure again.
        let token = self
            .auth
            .token(&self.http, self.clock.as_ref())
            .await
            .map_err(Failure::Final)?;
        let mut request = match call.method {
            Method::Get => self.http.get(url.clone()),
            Method::Post => self.http.post(url.clone()),
            Method::Put => self.http.put(url.clone()),
        }
        .bearer_auth(token.as_str())
        .header("accept", "application/fhir+json");
        if let Some(body) = call.body {
            request = request
                .header("content-type", "application/fhir+json")
                .body(body.to_string());
        }
        if let Some(version) = call.if_match {
            request = request.header("if-match", format!("W/\"{version}\""));
        }
        let response = request.send().await.map_err(|e| {
            let error = transport_error(op, &e);
            if e.is_connect() {
                Failure::Retryable(error)
            } else {
                Failure::RetryableIfIdempotent(error)
            }
        })?;
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            401 => return Ok(Attempt::Unauthorized(token)),
            404 | 410 => return Err(Failure::Final(EhrError::NotFound)),
            409 | 412 => {
                return Err(Failure::Final(EhrError::Conflict(format!(
                    "{op}: HTTP {status}"
                ))))
            }
            500..=599 => return Ok(Attempt::ServerError(status)),
            _ => {
                tracing::warn!(op, status, "the EHR refused a request");
                return Err(Failure::Final(EhrError::Rejected(format!(
                    "{op}: HTTP {status}"
                ))));
            }
        }
        let bytes = response.bytes().await.map_err(|e| {
            let error = transport_error(op, &e);
            Failure::RetryableIfIdempotent(error)
        })?;
        if bytes.is_empty() {
            return Ok(Attempt::Done(Value::Null));
        }
        serde_json::from_slice(&bytes)
            .map(Attempt::Done)
            .map_err(|_| Failure::Final(EhrError::Rejected(format!("{op}: unreadable answer"))))
    }

    async fn read(&self, op: &'static str, reference: &str) -> Result<Value, EhrError> {
        let value = self
            .send(&Call {
                op,
                method: Method::Get,
                path: reference,
                query: &[],
                body: None,
                if_match: None,
            })
            .await?;
        let expected = reference.split('/').next().unwrap_or_default();
        if value["resourceType"] != expected {
            return Err(EhrError::Rejected(format!("{op}: unexpected resource")));
        }
        Ok(value)
    }

    async fn write(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, EhrError> {
        self.send(&Call {
            op,
            method,
            path,
            query: &[],
            body: Some(body),
            if_match,
        })
        .await
    }

    /// Every resource of `resource_type` a search finds (following `next`
    /// links on this server, a bounded number of pages).
    async fn search(
        &self,
        op: &'static str,
        resource_type: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Value>, EhrError> {
        let mut query: Vec<(&str, String)> = params.to_vec();
        query.push(("_count", PAGE_SIZE.to_owned()));
        let call = Call {
            op,
            method: Method::Get,
            path: resource_type,
            query: &query,
            body: None,
            if_match: None,
        };
        let mut bundle = self.send(&call).await?;
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            if bundle["resourceType"] != "Bundle" {
                return Err(EhrError::Rejected(format!("{op}: not a Bundle")));
            }
            for entry in bundle["entry"].as_array().into_iter().flatten() {
                let resource = &entry["resource"];
                if resource["resourceType"] == resource_type && entry["search"]["mode"] != "include"
                {
                    found.push(resource.clone());
                }
            }
            let next = bundle["link"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["relation"] == "next")
                .and_then(|l| l["url"].as_str())
                .and_then(|u| Url::parse(u).ok())
                // Never send the token anywhere but this server.
                .filter(|u| is_under(&self.base, u));
            let Some(next) = next else {
                return Ok(found);
            };
            bundle = self.send_url(&call, next).await?;
        }
        Ok(found)
    }

    /// A schedule, practitioner or location, from the cache or the server.
    async fn directory_entry(&self, op: &'static str, reference: &str) -> Result<Value, EhrError> {
        if let Some(hit) = self.directory().get(reference) {
            return Ok(hit.clone());
        }
        let value = self.read(op, reference).await?;
        self.directory().insert(reference.to_owned(), value.clone());
        Ok(value)
    }

    fn directory(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.directory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The display name of a practitioner or location reference: the
    /// reference's own `display`, else the resource's name.
    async fn display_name(&self, op: &'static str, actor: &Value) -> Result<String, EhrError> {
        if let Some(display) = actor["display"].as_str().filter(|d| !d.trim().is_empty()) {
            return Ok(display.to_owned());
        }
        let Some(reference) = actor["reference"].as_str().and_then(local_reference) else {
            return Ok(String::new());
        };
        let resource = self.directory_entry(op, &reference).await?;
        Ok(if reference.starts_with("Practitioner/") {
            practitioner_name(&resource).0
        } else {
            resource["name"].as_str().unwrap_or_default().to_owned()
        })
    }

    /// The practitioner and location of a schedule.
    async fn schedule_actors(
        &self,
        schedule_ref: &str,
    ) -> Result<(Option<Value>, Option<Value>, Value), EhrError> {
        let schedule = self.directory_entry("read schedule", schedule_ref).await?;
        let actor = |kind: &str| {
            schedule["actor"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| {
                    a["reference"]
                        .as_str()
                        .and_then(local_reference)
                        .is_some_and(|r| r.starts_with(kind))
                })
        };
        let practitioner = actor("Practitioner/").cloned();
        let location = actor("Location/").cloned();
        Ok((practitioner, location, schedule))
    }

    async fn to_slot(
        &self,
        slot: &Value,
        want_service: Option<&str>,
    ) -> Result<Option<Slot>, EhrError> {
        let (Some(id), Some(start), Some(end)) = (
            slot["id"].as_str(),
            instant(&slot["start"]),
            instant(&slot["end"]),
        ) else {
            return Ok(None);
        };
        let Some(schedule_ref) = slot["schedule"]["reference"]
            .as_str()
            .and_then(local_reference)
        else {
            return Ok(None);
        };
        let (Some(practitioner), location, schedule) = self.schedule_actors(&schedule_ref).await?
        else {
            return Ok(None);
        };
        let mut services = codes(&slot["serviceType"]);
        if services.is_empty() {
            services = codes(&schedule["serviceType"]);
        }
        let service = match want_service {
            Some(want) if services.iter().any(|s| s == want) => want.to_owned(),
            Some(_) => return Ok(None),
            None => services.first().cloned().unwrap_or_default(),
        };
        let practitioner_id = practitioner["reference"]
            .as_str()
            .and_then(local_reference)
            .unwrap_or_default();
        let practitioner_name = self
            .display_name("read practitioner", &practitioner)
            .await?;
        let (location_id, location_name) = match &location {
            Some(l) => (
                l["reference"]
                    .as_str()
                    .and_then(local_reference)
                    .unwrap_or_default(),
                self.display_name("read location", l).await?,
            ),
            None => (String::new(), String::new()),
        };
        Ok(Some(Slot {
            id: format!("Slot/{id}"),
            start,
            end,
            practitioner_id,
            practitioner_name,
            service,
            location_id,
            location: location_name,
        }))
    }

    async fn to_appointment(&self, resource: &Value) -> Result<Option<Appointment>, EhrError> {
        let (Some(id), Some(start), Some(end)) = (
            resource["id"].as_str(),
            instant(&resource["start"]),
            instant(&resource["end"]),
        ) else {
            return Ok(None);
        };
        let actor = |kind: &str| {
            resource["participant"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| &p["actor"])
                .find(|a| {
                    a["reference"]
                        .as_str()
                        .and_then(local_reference)
                        .is_some_and(|r| r.starts_with(kind))
                })
                .cloned()
        };
        let (practitioner_id, practitioner_name) = match actor("Practitioner/") {
            Some(a) => (
                a["reference"]
                    .as_str()
                    .and_then(local_reference)
                    .unwrap_or_default(),
                self.display_name("read practitioner", &a).await?,
            ),
            None => (String::new(), String::new()),
        };
        let location = match actor("Location/") {
            Some(a) => self.display_name("read location", &a).await?,
            None => String::new(),
        };
        Ok(Some(Appointment {
            id: format!("Appointment/{id}"),
            start,
            end,
            practitioner_id,
            practitioner_name,
            location,
            service: codes(&resource["serviceType"])
                .into_iter()
                .next()
                .unwrap_or_default(),
            slot_id: resource["slot"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|s| s["reference"].as_str().and_then(local_reference)),
            status: resource["status"].as_str().unwrap_or_default().to_owned(),
        }))
    }

    /// Reads one of the patient's appointments; someone else's (or one
    /// that does not exist) is [`EhrError::NotFound`].
    async fn owned_appointment(
        &self,
        patient: &PatientId,
        appointment_id: &str,
    ) -> Result<Value, EhrError> {
        let path = checked_reference("Appointment", appointment_id)?;
        checked_reference("Patient", &patient.0)?;
        let appointment = self.read("read appointment", &path).await?;
        if !has_participant(&appointment, &patient.0) {
            return Err(EhrError::NotFound);
        }
        Ok(appointment)
    }

    /// Sets a slot's status, re-reading it once if it changed meanwhile.
    async fn set_slot_status(&self, slot_ref: &str, from: &str, to: &str) -> Result<(), EhrError> {
        for _ in 0..2 {
            let mut slot = self.read("read slot", slot_ref).await?;
            if slot["status"] != from {
                return Ok(());
            }
            let version = version(&slot);
            slot["status"] = json!(to);
            match self
                .write(
                    "update slot",
                    Method::Put,
                    slot_ref,
                    &slot,
                    version.as_deref(),
                )
                .await
            {
                Err(EhrError::Conflict(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
        Err(EhrError::Conflict("update slot: changed meanwhile".into()))
    }

    /// Cancels an appointment resource (already checked to be the
    /// patient's) and frees its slots.
    async fn cancel_resource(&self, appointment: Value) -> Result<(), EhrError> {
        let Some(appointment) = self.withdraw(appointment).await? else {
            return Ok(());
        };
        let slots: Vec<String> = appointment["slot"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["reference"].as_str().and_then(local_reference))
            .filter(|r| r.starts_with("Slot/"))
            .collect();
        for slot in slots {
            if let Err(error) = self.set_slot_status(&slot, "busy", "free").await {
                // The appointment is cancelled; a slot left busy costs the
                // clinic a slot, not the patient anything. Staff can free it.
                tracing::warn!(error = %error, "could not free the slot of a cancelled appointment");
            }
        }
        Ok(())
    }

    /// Sets an appointment `cancelled` (with the patient as the reason),
    /// leaving its slots alone; the cancelled resource, or `None` when it
    /// already was.
    async fn withdraw(&self, mut appointment: Value) -> Result<Option<Value>, EhrError> {
        let id = appointment["id"].as_str().unwrap_or_default().to_owned();
        let path = checked_reference("Appointment", &format!("Appointment/{id}"))?;
        match appointment["status"].as_str() {
            Some("cancelled") => return Ok(None),
            Some("booked" | "pending" | "proposed") => {}
            _ => {
                return Err(EhrError::Conflict(
                    "the appointment is no longer booked".into(),
                ))
            }
        }
        let version = version(&appointment);
        appointment["status"] = json!("cancelled");
        appointment["cancelationReason"] = json!({
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                "code": "pat",
                "display": "Patient"
            }]
        });
        self.write(
            "cancel appointment",
            Method::Put,
            &path,
            &appointment,
            version.as_deref(),
        )
        .await?;
        Ok(Some(appointment))
    }
}

enum Attempt {
    Done(Value),
    /// HTTP 401 to this token.
    Unauthorized(zeroize::Zeroizing<String>),
    ServerError(u16),
}

enum Failure {
    Retryable(EhrError),
    RetryableIfIdempotent(EhrError),
    Final(EhrError),
}

/// The URL of `path` under `base`. Only `Type` and `Type/id` paths are
/// joined, and the result must lie under the base: whatever the EHR's data
/// says, the bearer token goes nowhere else.
fn url_under(base: &Url, op: &str, path: &str) -> Result<Url, EhrError> {
    let bad = || EhrError::Rejected(format!("{op}: bad reference"));
    let relative = match path.split_once('/') {
        None => is_resource_type(path),
        Some((kind, id)) => is_resource_type(kind) && is_fhir_id(id),
    };
    if !relative {
        return Err(bad());
    }
    let url = base.join(path).map_err(|_| bad())?;
    if !is_under(base, &url) {
        return Err(bad());
    }
    Ok(url)
}

/// Whether `url` is on the EHR's server, under its base path.
fn is_under(base: &Url, url: &Url) -> bool {
    url.origin() == base.origin()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().starts_with(base.path())
}

/// `Type/id` from a relative or absolute reference, when its last two
/// segments are a resource type and a FHIR id.
fn local_reference(reference: &str) -> Option<String> {
    let mut parts = reference.trim_end_matches('/').rsplit('/');
    let id = parts.next()?;
    let kind = parts.next()?;
    (is_fhir_id(id) && is_resource_type(kind)).then(|| format!("{kind}/{id}"))
}

/// A FHIR resource type's name: a capital letter, then letters
/// (`Slot`, `MedicationRequest`).
fn is_resource_type(kind: &str) -> bool {
    (1..=64).contains(&kind.len())
        && kind.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && kind.bytes().all(|b| b.is_ascii_alphabetic())
}

/// A FHIR logical id: `[A-Za-z0-9\-\.]{1,64}`, but not `.` or `..`: in a
/// URL path those are dot segments, and `Slot/..` would name the base.
fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `reference` as a path, when it is `{kind}/{a FHIR id}`; anything else
/// is nobody's, so [`EhrError::NotFound`].
fn checked_reference(kind: &str, reference: &str) -> Result<String, EhrError> {
    match reference.split_once('/') {
        Some((k, id)) if k == kind && is_fhir_id(id) => Ok(reference.to_owned()),
        _ => Err(EhrError::NotFound),
    }
}

fn has_participant(appointment: &Value, patient: &str) -> bool {
    appointment["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| {
            p["actor"]["reference"]
                .as_str()
                .and_then(local_reference)
                .as_deref()
                == Some(patient)
        })
}

fn refers_to(value: &Value, patient: &str) -> bool {
    value["reference"]
        .as_str()
        .and_then(local_reference)
        .as_deref()
        == Some(patient)
}

fn version(resource: &Value) -> Option<String> {
    resource["meta"]["versionId"].as_str().map(str::to_owned)
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn fhir_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The codes of a list of CodeableConcepts (first coding's code, else the
/// text).
fn codes(concepts: &Value) -> Vec<String> {
    concepts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|coding| coding["code"].as_str())
                .or_else(|| c["text"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// A CodeableConcept's words: its text, else a coding's display.
fn concept_text(concept: &Value) -> Option<String> {
    concept["text"]
        .as_str()
        .or_else(|| {
            concept["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|c| c["display"].as_str())
        })
        .map(str::to_owned)
}

/// The name to use from a list of HumanNames: `official`, else `usual`,
/// else the first.
fn preferred_name(names: &Value) -> Option<&Value> {
    let names = names.as_array()?;
    ["official", "usual"]
        .iter()
        .find_map(|u| names.iter().find(|n| n["use"] == *u))
        .or_else(|| names.first())
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// (display name, family) of a Practitioner: "Dr. Anika Patel", "Patel".
fn practitioner_name(resource: &Value) -> (String, String) {
    let Some(name) = preferred_name(&resource["name"]) else {
        return (String::new(), String::new());
    };
    let family = name["family"].as_str().unwrap_or_default().to_owned();
    if let Some(text) = name["text"].as_str() {
        return (text.to_owned(), family);
    }
    let mut words: Vec<&str> = strings(&name["prefix"]);
    words.extend(strings(&name["given"]));
    if !family.is_empty() {
        words.push(&family);
    }
    let mut display = words.join(" ");
    let suffix = strings(&name["suffix"]);
    if !suffix.is_empty() {
        display = format!("{display}, {}", suffix.join(" "));
    }
    (display, family)
}

/// A telecom value of `system`, preferring `use = mobile`.
fn telecom(patient: &Value, system: &str) -> Option<String> {
    let entries: Vec<&Value> = patient["telecom"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["system"] == system && t["value"].is_string())
        .filter(|t| t["use"] != "old")
        .collect();
    entries
        .iter()
        .find(|t| t["use"] == "mobile")
        .or_else(|| entries.first())
        .and_then(|t| t["value"].as_str())
        .map(str::to_owned)
}

fn is_lab_order(request: &Value) -> bool {
    request["category"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["coding"].as_array().into_iter().flatten().any(|coding| {
                matches!(
                    coding["code"].as_str(),
                    Some(LAB_CATEGORY | "laboratory" | "LAB")
                )
            }) || c["text"]
                .as_str()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("lab"))
        })
}

fn refill_status(status: &str) -> RefillStatus {
    match status {
        "active" => RefillStatus::Active,
        "on-hold" => RefillStatus::OnHold,
        "completed" => RefillStatus::Completed,
        "stopped" | "cancelled" | "entered-in-error" | "ended" => RefillStatus::Stopped,
        _ => RefillStatus::Pending,
    }
}

#[async_trait::async_trait]
impl Ehr for FhirEhr {
    async fn find_patient(&self, query: &PatientQuery) -> Result<Option<PatientMatch>, EhrError> {
        let birth_date = *query.birth_date.expose();
        let family = query.family.expose().trim();
        if family.is_empty() {
            return Ok(None);
        }
        let mut params = vec![
            ("birthdate", birth_date.format("%Y-%m-%d").to_string()),
            ("family", family.to_owned()),
        ];
        let identifier = query
            .identifier
            .as_ref()
            .map(|i| i.expose().trim().to_owned());
        if let Some(id) = &identifier {
            params.push(("identifier", id.clone()));
        }
        let folded = fold_name(family);
        let found = self.search("search patients", "Patient", &params).await?;
        let mut matches = found.iter().filter(|p| {
            p["active"] != false
                && p["birthDate"]
                    .as_str()
                    .and_then(|d| d.parse::<NaiveDate>().ok())
                    == Some(birth_date)
                && p["name"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|n| n["family"].as_str().is_some_and(|f| fold_name(f) == folded))
                && identifier.as_ref().is_none_or(|want| {
                    p["identifier"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|i| i["value"].as_str() == Some(want.as_str()))
                })
        });
        let (Some(patient), None) = (matches.next(), matches.next()) else {
            return Ok(None);
        };
        let Some(id) = patient["id"].as_str().filter(|id| is_fhir_id(id)) else {
            return Ok(None);
        };
        let given = preferred_name(&patient["name"])
            .and_then(|n| strings(&n["given"]).first().map(|g| (*g).to_owned()))
            .unwrap_or_default();
        Ok(Some(PatientMatch {
            id: PatientId(format!("Patient/{id}")),
            phone: telecom(patient, "phone").map(Phi::new),
            email: telecom(patient, "email").map(Phi::new),
            given_name: Phi::new(given),
        }))
    }

    async fn upcoming_appointments(
        &self,
        patient: &PatientId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Appointment>, EhrError> {
        checked_reference("Patient", &patient.0)?;
        let params = [
            ("patient", patient.0.clone()),
            ("date", format!("ge{}", fhir_instant(now))),
            ("status", "booked".to_owned()),
            ("_sort", "date".to_owned()),
        ];
        let found = self
            .search("search appointments", "Appointment", &params)
            .await?;
        let mut list = Vec::new();
        for resource in found
            .iter()
            .filter(|a| a["status"] == "booked" && has_participant(a, &patient.0))
        {
            if let Some(appointment) = self.to_appointment(resource).await? {
                if appointment.start >= now {
                    list.push(appointment);
                }
            }
        }
        list.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(list)
    }

    async fn practitioners(&self) -> Result<Vec<Practitioner>, EhrError> {
        let schedules = self
            .search(
                "search schedules",
                "Schedule",
                &[("active", "true".to_owned())],
            )
            .await?;
        let mut list: Vec<Practitioner> = Vec::new();
        for schedule in &schedules {
            let services = codes(&schedule["serviceType"]);
            for actor in schedule["actor"].as_array().into_iter().flatten() {
                let Some(reference) = actor["reference"].as_str().and_then(local_reference) else {
                    continue;
                };
                if !reference.starts_with("Practitioner/") {
                    continue;
                }
                if let Some(known) = list.iter_mut().find(|p| p.id == reference) {
                    for s in &services {
                        if !known.services.contains(s) {
                            known.services.push(s.clone());
                        }
                    }
                    continue;
                }
                let resource = self
                    .directory_entry("read practitioner", &reference)
                    .await?;
                if resource["active"] == false {
                    continue;
                }
                let (name, family) = practitioner_name(&resource);
                list.push(Practitioner {
                    id: reference,
                    name,
                    family,
                    services: services.clone(),
                });
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<Slot>, EhrError> {
        let mut params = vec![
            ("status", "free".to_owned()),
            ("start", format!("ge{}", fhir_instant(query.from))),
            ("start", format!("lt{}", fhir_instant(query.to))),
            ("_sort", "start".to_owned()),
        ];
        if let Some(practitioner) = &query.practitioner_id {
            let Ok(practitioner) = checked_reference("Practitioner", practitioner) else {
                return Ok(Vec::new());
            };
            let schedules = self
                .search(
                    "search schedules",
                    "Schedule",
                    &[("actor", practitioner.clone())],
                )
                .await?;
            let ids: Vec<String> = schedules
                .iter()
                .filter_map(|s| s["id"].as_str())
                .map(|id| format!("Schedule/{id}"))
                .collect();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            params.push(("schedule", ids.join(",")));
        }
        if let Some(service) = &query.service {
            params.push(("service-type", service.clone()));
        }
        let found = self.search("search slots", "Slot", &params).await?;
        let mut list = Vec::new();
        for resource in found.iter().filter(|s| s["status"] == "free") {
            let Some(slot) = self.to_slot(resource, query.service.as_deref()).await? else {
                continue;
            };
            let in_range = slot.start >= query.from && slot.start < query.to;
            let by = query
                .practitioner_id
                .as_ref()
                .is_none_or(|p| *p == slot.practitioner_id);
            if in_range && by {
                list.push(slot);
            }
        }
        list.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(list)
    }

    async fn book(&self, patient: &PatientId, slot_id: &str) -> Result<Appointment, EhrError> {
        let patient_ref = checked_reference("Patient", &patient.0)?;
        let slot_ref = checked_reference("Slot", slot_id)?;
        let mut slot = self.read("read slot", &slot_ref).await?;
        if slot["status"] != "free" {
            return Err(EhrError::Conflict("the slot is no longer free".into()));
        }
        let Some(start) = instant(&slot["start"]) else {
            return Err(EhrError::Rejected("read slot: no start".into()));
        };
        if start < self.clock.now() {
            return Err(EhrError::Conflict("the slot is in the past".into()));
        }
        let Some(found) = self.to_slot(&slot, None).await? else {
            return Err(EhrError::Rejected(
                "read slot: its schedule names no practitioner".into(),
            ));
        };
        let service_type = slot["serviceType"]
            .as_array()
            .and_then(|a| a.first())
            .cloned();
        let participant = |reference: &str, display: &str| {
            let mut actor = json!({ "reference": reference });
            if !display.is_empty() {
                actor["display"] = json!(display);
            }
            json!({ "actor": actor, "required": "required", "status": "accepted" })
        };
        let mut participants = vec![
            participant(&patient_ref, ""),
            participant(&found.practitioner_id, &found.practitioner_name),
        ];
        if !found.location_id.is_empty() {
            participants.push(participant(&found.location_id, &found.location));
        }
        let mut body = json!({
            "resourceType": "Appointment",
            "status": "booked",
            "start": slot["start"],
            "end": slot["end"],
            "created": fhir_instant(self.clock.now()),
            "slot": [{ "reference": slot_ref }],
            "participant": participants,
        });
        if let Some(service_type) = service_type {
            body["serviceType"] = json!([service_type]);
        }
        let created = self
            .write(
                "create appointment",
                Method::Post,
                "Appointment",
                &body,
                None,
            )
            .await?;
        let Some(appointment) = self.to_appointment(&created).await? else {
            return Err(EhrError::Rejected(
                "create appointment: unreadable answer".into(),
            ));
        };
        let slot_version = version(&slot);
        slot["status"] = json!("busy");
        if let Err(error) = self
            .write(
                "update slot",
                Method::Put,
                &slot_ref,
                &slot,
                slot_version.as_deref(),
            )
            .await
        {
            // Someone else took the slot between our read and our update
            // (or the update failed): withdraw the appointment again, but
            // leave the slot alone: it is the other booking's now.
            if let Err(rollback) = self.withdraw(created).await {
                tracing::warn!(error = %rollback, "could not withdraw an appointment whose slot was taken");
            }
            return Err(match error {
                EhrError::Conflict(_) => EhrError::Conflict("the slot was just taken".into()),
                other => other,
            });
        }
        Ok(appointment)
    }

    async fn cancel(&self, patient: &PatientId, appointment_id: &str) -> Result<(), EhrError> {
        let appointment = self.owned_appointment(patient, appointment_id).await?;
        self.cancel_resource(appointment).await
    }

    async fn reschedule(
        &self,
        patient: &PatientId,
        appointment_id: &str,
        new_slot_id: &str,
    ) -> Result<Appointment, EhrError> {
        let old = self.owned_appointment(patient, appointment_id).await?;
        if old["status"] != "booked" {
            return Err(EhrError::Conflict(
                "the appointment is no longer booked".into(),
            ));
        }
        let new = self.book(patient, new_slot_id).await?;
        if let Err(error) = self.cancel_resource(old).await {
            // Keep the patient with exactly one appointment: the old one.
            if let Ok(created) = self.owned_appointment(patient, &new.id).await {
                if let Err(rollback) = self.cancel_resource(created).await {
                    tracing::warn!(error = %rollback, "could not withdraw the new appointment of a failed reschedule");
                }
            }
            return Err(error);
        }
        Ok(new)
    }

    async fn lab_orders(&self, patient: &PatientId) -> Result<Vec<LabOrder>, EhrError> {
        checked_reference("Patient", &patient.0)?;
        let requests = self
            .search(
                "search lab orders",
                "ServiceRequest",
                &[("subject", patient.0.clone())],
            )
            .await?;
        let requests: Vec<&Value> = requests
            .iter()
            .filter(|r| refers_to(&r["subject"], &patient.0) && is_lab_order(r))
            .filter(|r| {
                !matches!(
                    r["status"].as_str(),
                    Some("entered-in-error" | "revoked" | "draft")
                )
            })
            .filter(|r| r["id"].as_str().is_some_and(is_fhir_id))
            .collect();
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let refs: Vec<String> = requests
            .iter()
            .filter_map(|r| r["id"].as_str())
            .map(|id| format!("ServiceRequest/{id}"))
            .collect();
        let reports = self
            .search(
                "search lab reports",
                "DiagnosticReport",
                &[("based-on", refs.join(","))],
            )
            .await?;
        let ready = |reference: &str| {
            reports.iter().any(|report| {
                matches!(
                    report["status"].as_str(),
                    Some("final" | "amended" | "corrected" | "appended")
                ) && report["basedOn"].as_array().into_iter().flatten().any(|b| {
                    b["reference"].as_str().and_then(local_reference).as_deref() == Some(reference)
                })
            })
        };
        Ok(requests
            .iter()
            .zip(&refs)
            .map(|(request, reference)| LabOrder {
                id: reference.clone(),
                name: concept_text(&request["code"]).unwrap_or_else(|| "Lab order".to_owned()),
                ordered: request["authoredOn"]
                    .as_str()
                    .and_then(|d| d.get(..10))
                    .and_then(|d| d.parse().ok()),
                status: if ready(reference) {
                    LabStatus::Ready
                } else {
                    LabStatus::Pending
                },
            })
            .collect())
    }

    async fn refills(&self, patient: &PatientId) -> Result<Vec<Refill>, EhrError> {
        checked_reference("Patient", &patient.0)?;
        let requests = self
            .search(
                "search prescriptions",
                "MedicationRequest",
                &[("subject", patient.0.clone())],
            )
            .await?;
        Ok(requests
            .iter()
            .filter(|r| refers_to(&r["subject"], &patient.0))
            .filter_map(|r| {
                let id = r["id"].as_str().filter(|id| is_fhir_id(id))?;
                let medication = concept_text(&r["medicationCodeableConcept"])
                    .or_else(|| {
                        r["medicationReference"]["display"]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| "Prescription".to_owned());
                Some(Refill {
                    id: format!("MedicationRequest/{id}"),
                    medication,
                    status: refill_status(r["status"].as_str().unwrap_or_default()),
                })
            })
            .collect())
    }
}

/// The pure FHIR JSON mapping helpers above, unchanged, for the fuzz
/// targets (`fuzz/fuzz_targets/fhir.rs`). Only with the `fuzzing` feature;
/// reached through `carechat::fuzzing::fhir`.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use chrono::{DateTime, Utc};
    use serde_json::Value;
    use url::Url;

    use crate::ehr::RefillStatus;

    /// [`super::local_reference`].
    #[must_use]
    pub fn local_reference(reference: &str) -> Option<String> {
        super::local_reference(reference)
    }
    /// [`super::url_under`], its error dropped.
    #[must_use]
    pub fn url_under(base: &Url, path: &str) -> Option<Url> {
        super::url_under(base, "fuzz", path).ok()
    }
    /// [`super::is_under`].
    #[must_use]
    pub fn is_under(base: &Url, url: &Url) -> bool {
        super::is_under(base, url)
    }
    /// [`super::checked_reference`], its error dropped.
    #[must_use]
    pub fn checked_reference(kind: &str, reference: &str) -> Option<String> {
        super::checked_reference(kind, reference).ok()
    }
    /// [`super::is_resource_type`].
    #[must_use]
    pub fn is_resource_type(kind: &str) -> bool {
        super::is_resource_type(kind)
    }
    /// [`super::is_fhir_id`].
    #[must_use]
    pub fn is_fhir_id(id: &str) -> bool {
        super::is_fhir_id(id)
    }
    /// [`super::has_participant`].
    #[must_use]
    pub fn has_participant(appointment: &Value, patient: &str) -> bool {
        super::has_participant(appointment, patient)
    }
    /// [`super::refers_to`].
    #[must_use]
    pub fn refers_to(value: &Value, patient: &str) -> bool {
        super::refers_to(value, patient)
    }
    /// [`super::instant`].
    #[must_use]
    pub fn instant(value: &Value) -> Option<DateTime<Utc>> {
        super::instant(value)
    }
    /// [`super::fhir_instant`].
    #[must_use]
    pub fn fhir_instant(t: DateTime<Utc>) -> String {
        super::fhir_instant(t)
    }
    /// [`super::codes`].
    #[must_use]
    pub fn codes(concepts: &Value) -> Vec<String> {
        super::codes(concepts)
    }
    /// [`super::concept_text`].
    #[must_use]
    pub fn concept_text(concept: &Value) -> Option<String> {
        super::concept_text(concept)
    }
    /// [`super::preferred_name`].
    #[must_use]
    pub fn preferred_name(names: &Value) -> Option<&Value> {
        super::preferred_name(names)
    }
    /// [`super::practitioner_name`].
    #[must_use]
    pub fn practitioner_name(resource: &Value) -> (String, String) {
        super::practitioner_name(resource)
    }
    /// [`super::telecom`].
    #[must_use]
    pub fn telecom(patient: &Value, system: &str) -> Option<String> {
        super::telecom(patient, system)
    }
    /// [`super::is_lab_order`].
    #[must_use]
    pub fn is_lab_order(request: &Value) -> bool {
        super::is_lab_order(request)
    }
    /// [`super::refill_status`].
    #[must_use]
    pub fn refill_status(status: &str) -> RefillStatus {
        super::refill_status(status)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn references_are_reduced_to_type_and_id() {
        assert_eq!(
            local_reference("Practitioner/p1").as_deref(),
            Some("Practitioner/p1")
        );
        assert_eq!(
            local_reference("https://ehr.example/fhir/R4/Location/l-1").as_deref(),
            Some("Location/l-1")
        );
        assert_eq!(local_reference("p1"), None);
        // A reference whose last segments are a URL is nobody's.
        assert_eq!(local_reference("Schedule/x/http:/attacker.example"), None);
        assert_eq!(
            local_reference("Schedule/x/https://attacker.example/a"),
            None
        );
        assert_eq!(local_reference("Slot/a b"), None);
    }

    #[test]
    fn a_reference_in_the_ehrs_data_cannot_send_the_token_off_the_server() {
        let base = Url::parse("https://ehr.example/fhir/R4/").unwrap();
        for path in [
            "Schedule/x/http:/attacker.example",
            "http://attacker.example/Slot",
            "//attacker.example/Slot",
            "/Slot",
            "../Slot",
            "Slot/../../x",
            "Slot/a b",
            "slot/abc",
            "Slot/abc?x=1",
            "Slot/abc#f",
            "",
        ] {
            assert!(url_under(&base, "read", path).is_err(), "{path}");
        }
        assert_eq!(
            url_under(&base, "read", "Slot/abc-1.2").unwrap().as_str(),
            "https://ehr.example/fhir/R4/Slot/abc-1.2"
        );
        assert!(url_under(&base, "search", "MedicationRequest").is_ok());
        // A `next` link elsewhere is not followed with the token.
        for next in [
            "https://attacker.example/fhir/R4/Slot?page=2",
            "https://ehr.example:8443/fhir/R4/Slot?page=2",
            "http://ehr.example/fhir/R4/Slot?page=2",
            "https://ehr.example/fhir/R5/Slot?page=2",
            "https://user:pw@ehr.example/fhir/R4/Slot?page=2",
        ] {
            assert!(!is_under(&base, &Url::parse(next).unwrap()), "{next}");
        }
        assert!(is_under(
            &base,
            &Url::parse("https://ehr.example/fhir/R4/Slot?page=2").unwrap()
        ));
    }

    #[test]
    fn ids_from_callers_cannot_leave_their_resource_type() {
        assert!(checked_reference("Slot", "Slot/abc-1.2").is_ok());
        for bad in [
            "Slot/../Patient/x",
            "Appointment/x",
            "Slot/x?y=1",
            "Slot/",
            "Slot",
        ] {
            assert!(
                matches!(checked_reference("Slot", bad), Err(EhrError::NotFound)),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_dot_segment_id_is_no_id() {
        // Found with the `fhir` fuzz target's invariant that a reference's
        // URL is the base followed by it: "Slot/.." was the base itself,
        // "Appointment/." the Appointment search.
        let base = Url::parse("https://ehr.example/fhir/R4/").unwrap();
        for reference in ["Slot/..", "Appointment/.", "Patient/..", "Slot/../"] {
            assert_eq!(local_reference(reference), None, "{reference}");
            assert!(url_under(&base, "read", reference).is_err(), "{reference}");
        }
        for (kind, reference) in [("Slot", "Slot/.."), ("Appointment", "Appointment/.")] {
            assert!(
                matches!(checked_reference(kind, reference), Err(EhrError::NotFound)),
                "{reference}"
            );
        }
        assert!(is_fhir_id("a..b") && is_fhir_id("..."));
    }

    #[test]
    fn practitioner_names_read_like_a_person() {
        let dr = json!({"name": [{"family": "Patel", "given": ["Anika"], "prefix": ["Dr."]}]});
        assert_eq!(
            practitioner_name(&dr),
            ("Dr. Anika Patel".into(), "Patel".into())
        );
        let np = json!({"name": [{"use": "old", "family": "X"}, {"use": "official", "family": "Okafor", "given": ["Jordan"], "suffix": ["NP"]}]});
        assert_eq!(practitioner_name(&np).0, "Jordan Okafor, NP");
    }

    #[test]
    fn the_mobile_phone_is_preferred() {
        let patient = json!({"telecom": [
            {"system": "phone", "value": "+12025550100", "use": "home"},
            {"system": "email", "value": "a@example.com"},
            {"system": "phone", "value": "+12025550101", "use": "mobile"}
        ]});
        assert_eq!(telecom(&patient, "phone").as_deref(), Some("+12025550101"));
        assert_eq!(telecom(&patient, "email").as_deref(), Some("a@example.com"));
        assert_eq!(telecom(&json!({}), "phone"), None);
    }

    #[test]
    fn medication_request_statuses_map_to_refill_statuses() {
        for (status, want) in [
            ("active", RefillStatus::Active),
            ("on-hold", RefillStatus::OnHold),
            ("completed", RefillStatus::Completed),
            ("stopped", RefillStatus::Stopped),
            ("cancelled", RefillStatus::Stopped),
            ("entered-in-error", RefillStatus::Stopped),
            ("ended", RefillStatus::Stopped),
            ("draft", RefillStatus::Pending),
            ("unknown", RefillStatus::Pending),
        ] {
            assert_eq!(refill_status(status), want, "{status}");
        }
    }

    #[test]
    fn transport_errors_never_carry_the_url() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = rt.block_on(async {
            reqwest::Client::new()
                .get("http://127.0.0.1:1/Patient?family=Sample&birthdate=1984-03-02")
                .send()
                .await
                .unwrap_err()
        });
        let mapped = transport_error("search patients", &error).to_string();
        assert!(
            !mapped.contains("Sample") && !mapped.contains("1984"),
            "{mapped}"
        );
        assert!(mapped.contains("search patients"), "{mapped}");
    }
}
