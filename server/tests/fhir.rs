//! The FHIR client against a real FHIR server nobody on this project wrote.
//!
//! Each test starts `tests/fhir-server/server.mjs` (Medplum's FHIR router and
//! in-memory repository from npm, behind a small harness with a SMART token
//! endpoint that verifies the client's signed JWT), seeds it through the
//! router, and drives [`FhirEhr`] through every [`Ehr`] method. Every
//! resource the client wrote is then checked by an independent validator
//! (`tests/fhir-server/validate.py`, PyPI `fhir.resources`, R4B models).
//!
//! Needs Node.js, `npm ci` in `tests/fhir-server` and a Python with
//! `fhir.resources`: `scripts/setup` installs all three.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carechat::clock::SystemClock;
use carechat::ehr::fhir::FhirEhr;
use carechat::ehr::{
    Ehr, EhrError, FhirConfig, LabStatus, PatientId, PatientQuery, RefillStatus, SigningAlgorithm,
    SlotQuery,
};
use carechat::phi::Phi;
use chrono::{DateTime, Duration as Days, DurationRound as _, Utc};
use p384::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use serde_json::{json, Value};

const CLIENT_ID: &str = "carechat-test";
const KEY_ID: &str = "test-key-1";

fn repo_root() -> PathBuf {
    std::env::var_os("CARECHAT_REPO_ROOT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        PathBuf::from,
    )
}

fn harness_dir() -> PathBuf {
    repo_root().join("tests/fhir-server")
}

/// A running FHIR server harness; killed on drop.
struct FhirServer {
    child: Child,
    port: u16,
    algorithm: SigningAlgorithm,
    key_pem: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Drop for FhirServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FhirServer {
    fn start() -> Self {
        let key = p384::SecretKey::random(&mut rand_core::OsRng);
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public = key.public_key().to_public_key_pem(LineEnding::LF).unwrap();
        Self::start_with(SigningAlgorithm::Es384, key_pem, &public)
    }

    /// A server that knows the client by `public` (PEM, SPKI).
    fn start_with(algorithm: SigningAlgorithm, key_pem: String, public_pem: &str) -> Self {
        let harness = harness_dir();
        assert!(
            harness.join("node_modules/@medplum/fhir-router").exists(),
            "the FHIR test server's packages are missing in {}: run scripts/setup (it runs npm ci there)",
            harness.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("client-public.pem");
        std::fs::write(&public, public_pem).unwrap();
        let mut child = Command::new("node")
            .current_dir(&harness)
            .arg("server.mjs")
            .arg("--public-key")
            .arg(&public)
            .args(["--client-id", CLIENT_ID, "--key-id", KEY_ID, "--record"])
            .arg(dir.path().join("written.jsonl"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start node: install Node.js (scripts/setup does)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .unwrap_or_else(|| panic!("the FHIR server did not start: {line:?}"));
        Self {
            child,
            port: u16::try_from(port).unwrap(),
            algorithm,
            key_pem,
            dir,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn config(&self, timeout: Duration, retries: u32) -> FhirConfig {
        let mut config = FhirConfig::new(
            self.url("/fhir/R4").parse().unwrap(),
            self.url("/oauth2/token").parse().unwrap(),
            CLIENT_ID,
            KEY_ID,
            self.algorithm,
            &self.key_pem,
        )
        .unwrap();
        config.timeout = timeout;
        config.retries = retries;
        config
    }

    fn client(&self) -> FhirEhr {
        FhirEhr::new(
            &self.config(Duration::from_secs(5), 2),
            Arc::new(SystemClock),
        )
        .unwrap()
    }

    /// Creates a resource through the router (no token), returning
    /// `Type/id`.
    async fn seed(&self, resource: Value) -> String {
        let kind = resource["resourceType"].as_str().unwrap().to_owned();
        let response = self
            .http
            .post(self.url(&format!("/_seed/{kind}")))
            .header("content-type", "application/fhir+json")
            .body(resource.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "seeding a {kind}");
        let created: Value = response.json().await.unwrap();
        format!("{kind}/{}", created["id"].as_str().unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(self.url(&format!("/_seed/{path}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn admin(&self, change: Value) {
        let response = self
            .http
            .post(self.url("/_admin/config"))
            .body(change.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    async fn stats(&self) -> Value {
        self.http
            .get(self.url("/_admin/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn written(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("written.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn written_file(&self) -> PathBuf {
        self.dir.path().join("written.jsonl")
    }
}

/// The Python that has `fhir.resources`: the one `scripts/setup` makes
/// under `.tools/`, else `python3`.
fn python() -> PathBuf {
    let venv = repo_root().join(".tools/venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs the validator over a JSON-lines file: (passed, output).
fn validate(file: &Path) -> (bool, String) {
    let output = Command::new(python())
        .arg(harness_dir().join("validate.py"))
        .arg(file)
        .output()
        .expect("cannot run python3 (scripts/setup installs the validator)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("No module named"),
        "fhir.resources is missing: run scripts/setup\n{text}"
    );
    (output.status.success(), text)
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A day ahead, on the hour, so slot times are tidy.
fn base_time() -> DateTime<Utc> {
    (Utc::now() + Days::days(1))
        .duration_trunc(Days::hours(1))
        .unwrap()
}

fn coding(code: &str) -> Value {
    json!([{ "coding": [{ "system": "http://clinic.example/service-type", "code": code }] }])
}

/// What the seeded clinic holds, by reference.
struct Clinic {
    morgan: PatientId,
    jesse: PatientId,
    patel: String,
    chen: String,
    /// Patel's free checkup slots, soonest first.
    patel_slots: Vec<String>,
    /// Patel's busy slot.
    busy_slot: String,
    /// Chen's free follow-up slot.
    chen_slot: String,
    jesse_appointment: String,
}

async fn seed_clinic(server: &FhirServer) -> Clinic {
    let t0 = base_time();
    let patel = server
        .seed(json!({"resourceType": "Practitioner", "active": true,
            "name": [{"use": "official", "family": "Patel", "given": ["Anika"], "prefix": ["Dr."]}]}))
        .await;
    let chen = server
        .seed(json!({"resourceType": "Practitioner", "active": true,
            "name": [{"family": "Chen", "given": ["Marcus"], "prefix": ["Dr."]}]}))
        .await;
    let location = server
        .seed(json!({"resourceType": "Location", "status": "active", "name": "Maple Grove Family Clinic"}))
        .await;
    let patel_schedule = server
        .seed(json!({"resourceType": "Schedule", "active": true,
            "serviceType": [coding("checkup")[0], coding("sick-visit")[0]],
            "actor": [{"reference": patel}, {"reference": location}]}))
        .await;
    let chen_schedule = server
        .seed(json!({"resourceType": "Schedule", "active": true,
            "serviceType": coding("follow-up"),
            "actor": [{"reference": chen}, {"reference": location}]}))
        .await;
    let slot = |schedule: &str, hours: i64, service: &str, status: &str| {
        let start = t0 + Days::hours(hours);
        json!({"resourceType": "Slot", "schedule": {"reference": schedule},
            "status": status, "serviceType": coding(service),
            "start": at(start), "end": at(start + Days::minutes(30))})
    };
    let mut patel_slots = Vec::new();
    for hours in [1, 2, 3, 26] {
        patel_slots.push(
            server
                .seed(slot(&patel_schedule, hours, "checkup", "free"))
                .await,
        );
    }
    server
        .seed(slot(&patel_schedule, 4, "sick-visit", "free"))
        .await;
    let busy_slot = server
        .seed(slot(&patel_schedule, 5, "checkup", "busy"))
        .await;
    let chen_slot = server
        .seed(slot(&chen_schedule, 2, "follow-up", "free"))
        .await;
    // Outside every query range the tests use.
    server
        .seed(slot(&chen_schedule, 24 * 60, "follow-up", "free"))
        .await;

    let morgan = server
        .seed(json!({"resourceType": "Patient", "active": true,
            "identifier": [{"system": "http://clinic.example/mrn", "value": "MGFC-100234"}],
            "name": [{"use": "official", "family": "Sample", "given": ["Morgan", "Lee"]}],
            "birthDate": "1984-03-02",
            "telecom": [
                {"system": "phone", "value": "+12025550100", "use": "home"},
                {"system": "phone", "value": "+12025550101", "use": "mobile"},
                {"system": "email", "value": "morgan.sample@example.com"}]}))
        .await;
    let jesse = server
        .seed(
            json!({"resourceType": "Patient", "name": [{"family": "Sampleton", "given": ["Jesse"]}],
            "birthDate": "1962-01-20", "telecom": [{"system": "phone", "value": "+12025550103"}]}),
        )
        .await;
    server
        .seed(
            json!({"resourceType": "Patient", "name": [{"family": "Sampleton", "given": ["Jamie"]}],
            "birthDate": "2001-09-05"}),
        )
        .await;
    for given in ["Quinn", "Reese"] {
        server
            .seed(json!({"resourceType": "Patient", "name": [{"family": "Doubleday", "given": [given]}],
                "birthDate": "2012-06-18"}))
            .await;
    }
    let appointment = |patient: &str, practitioner: Value, start: DateTime<Utc>, status: &str| {
        json!({"resourceType": "Appointment", "status": status,
            "serviceType": coding("checkup"),
            "start": at(start), "end": at(start + Days::minutes(30)),
            "participant": [
                {"actor": {"reference": patient}, "status": "accepted"},
                {"actor": practitioner, "status": "accepted"},
                {"actor": {"reference": location}, "status": "accepted"}]})
    };
    // Morgan: two upcoming (one naming its practitioner only by
    // reference), one past, one cancelled.
    server
        .seed(appointment(
            &morgan,
            json!({"reference": chen, "display": "Dr. Marcus Chen"}),
            t0 + Days::days(9),
            "booked",
        ))
        .await;
    server
        .seed(appointment(
            &morgan,
            json!({"reference": patel}),
            t0 + Days::days(2),
            "booked",
        ))
        .await;
    server
        .seed(appointment(
            &morgan,
            json!({"reference": patel}),
            t0 - Days::days(30),
            "booked",
        ))
        .await;
    server
        .seed(appointment(
            &morgan,
            json!({"reference": patel}),
            t0 + Days::days(3),
            "cancelled",
        ))
        .await;
    let jesse_appointment = server
        .seed(appointment(
            &jesse,
            json!({"reference": chen}),
            t0 + Days::days(4),
            "booked",
        ))
        .await;

    let lab = |name: &str| {
        json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007", "display": "Laboratory procedure"}]}],
            "code": {"text": name}, "subject": {"reference": morgan}, "authoredOn": "2026-11-01"})
    };
    let lipid = server.seed(lab("Lipid panel")).await;
    let metabolic = server.seed(lab("Comprehensive metabolic panel")).await;
    server
        .seed(json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "363679005", "display": "Imaging"}]}],
            "code": {"text": "Chest X-ray"}, "subject": {"reference": morgan}}))
        .await;
    server
        .seed(json!({"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "Lipid panel"},
            "basedOn": [{"reference": lipid}], "subject": {"reference": morgan}}))
        .await;
    server
        .seed(json!({"resourceType": "DiagnosticReport", "status": "preliminary", "code": {"text": "CMP"},
            "basedOn": [{"reference": metabolic}], "subject": {"reference": morgan}}))
        .await;
    let medication = |patient: &str, name: &str, status: &str| {
        json!({"resourceType": "MedicationRequest", "status": status, "intent": "order",
            "medicationCodeableConcept": {"text": name}, "subject": {"reference": patient}})
    };
    server
        .seed(medication(&morgan, "Lisinopril 10 mg tablet", "active"))
        .await;
    server
        .seed(medication(&morgan, "Atorvastatin 20 mg tablet", "on-hold"))
        .await;
    server
        .seed(medication(&jesse, "Metformin 500 mg tablet", "active"))
        .await;
    Clinic {
        morgan: PatientId(morgan),
        jesse: PatientId(jesse),
        patel,
        chen,
        patel_slots,
        busy_slot,
        chen_slot,
        jesse_appointment,
    }
}

fn query(dob: &str, family: &str, mrn: Option<&str>) -> PatientQuery {
    PatientQuery {
        birth_date: Phi::new(dob.parse().unwrap()),
        family: Phi::new(family.to_owned()),
        identifier: mrn.map(|m| Phi::new(m.to_owned())),
    }
}

fn week() -> SlotQuery {
    SlotQuery {
        from: Utc::now(),
        to: Utc::now() + Days::days(7),
        ..SlotQuery::default()
    }
}

#[tokio::test]
async fn patients_are_found_only_by_every_detail_matching_exactly() {
    let server = FhirServer::start();
    let clinic = seed_clinic(&server).await;
    let ehr = server.client();
    let found = ehr
        .find_patient(&query("1984-03-02", " SAMPLE ", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, clinic.morgan);
    assert_eq!(found.given_name.expose(), "Morgan");
    assert_eq!(
        found.phone.unwrap().expose(),
        "+12025550101",
        "mobile first"
    );
    assert_eq!(found.email.unwrap().expose(), "morgan.sample@example.com");
    let with_mrn = ehr
        .find_patient(&query("1984-03-02", "Sample", Some("MGFC-100234")))
        .await
        .unwrap();
    assert_eq!(with_mrn.unwrap().id, clinic.morgan);
    let jesse = ehr
        .find_patient(&query("1962-01-20", "sampleton", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(jesse.id, clinic.jesse);
    assert!(jesse.email.is_none());
    for (dob, family, mrn) in [
        ("1984-03-03", "Sample", None),
        // FHIR's family search matches prefixes; the client does not.
        ("1984-03-02", "Sam", None),
        ("1984-03-02", "Sample", Some("MGFC-999999")),
        // Twins: two patients match, so nobody does.
        ("2012-06-18", "Doubleday", None),
        ("1984-03-02", "", None),
    ] {
        let got = ehr.find_patient(&query(dob, family, mrn)).await.unwrap();
        assert!(got.is_none(), "{dob} {family:?} {mrn:?}");
    }
}

#[tokio::test]
async fn every_operation_works_and_every_written_resource_is_valid_fhir() {
    let server = FhirServer::start();
    let clinic = seed_clinic(&server).await;
    let ehr = server.client();
    let now = Utc::now();

    // Upcoming appointments: booked, not past, soonest first, names resolved.
    let upcoming = ehr
        .upcoming_appointments(&clinic.morgan, now)
        .await
        .unwrap();
    assert_eq!(upcoming.len(), 2, "{upcoming:?}");
    assert!(upcoming[0].start < upcoming[1].start);
    assert_eq!(upcoming[0].practitioner_name, "Dr. Anika Patel");
    assert_eq!(upcoming[0].practitioner_id, clinic.patel);
    assert_eq!(upcoming[1].practitioner_name, "Dr. Marcus Chen");
    assert_eq!(upcoming[0].location, "Maple Grove Family Clinic");
    assert_eq!(upcoming[0].service, "checkup");

    // Practitioners from the schedules.
    let practitioners = ehr.practitioners().await.unwrap();
    let names: Vec<_> = practitioners.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Dr. Anika Patel", "Dr. Marcus Chen"]);
    assert_eq!(practitioners[0].family, "Patel");
    assert_eq!(practitioners[0].services, ["checkup", "sick-visit"]);

    // Free slots: all, by practitioner, by service.
    let all = ehr.free_slots(&week()).await.unwrap();
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(all.windows(2).all(|w| w[0].start <= w[1].start));
    assert!(all.iter().all(|s| s.id != clinic.busy_slot));
    let patel_checkups = ehr
        .free_slots(&SlotQuery {
            practitioner_id: Some(clinic.patel.clone()),
            service: Some("checkup".into()),
            ..week()
        })
        .await
        .unwrap();
    let ids: Vec<_> = patel_checkups.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, clinic.patel_slots);
    assert!(patel_checkups
        .iter()
        .all(|s| s.practitioner_name == "Dr. Anika Patel"
            && s.location == "Maple Grove Family Clinic"
            && s.service == "checkup"
            && s.end - s.start == Days::minutes(30)));
    let follow_ups = ehr
        .free_slots(&SlotQuery {
            service: Some("follow-up".into()),
            ..week()
        })
        .await
        .unwrap();
    assert_eq!(follow_ups.len(), 1);
    assert_eq!(follow_ups[0].id, clinic.chen_slot);
    assert_eq!(follow_ups[0].practitioner_id, clinic.chen);
    let first_day = ehr
        .free_slots(&SlotQuery {
            to: base_time() + Days::hours(2),
            ..week()
        })
        .await
        .unwrap();
    assert_eq!(first_day.len(), 1, "start=lt is exclusive");

    // Book: the appointment appears, the slot is busy.
    let booked = ehr
        .book(&clinic.morgan, &clinic.patel_slots[0])
        .await
        .unwrap();
    assert_eq!(booked.status, "booked");
    assert_eq!(
        booked.slot_id.as_deref(),
        Some(clinic.patel_slots[0].as_str())
    );
    assert_eq!(booked.practitioner_name, "Dr. Anika Patel");
    assert_eq!(booked.service, "checkup");
    let slot = server.get(&clinic.patel_slots[0]).await;
    assert_eq!(slot["status"], "busy");
    let upcoming = ehr
        .upcoming_appointments(&clinic.morgan, now)
        .await
        .unwrap();
    assert_eq!(upcoming.len(), 3);
    assert_eq!(upcoming[0].id, booked.id);
    let stored = server.get(&booked.id).await;
    let actors: Vec<_> = stored["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["actor"]["reference"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(actors, ["Patient", "Practitioner", "Location"]);

    // A taken slot is a conflict, for anybody.
    for slot in [&clinic.patel_slots[0], &clinic.busy_slot] {
        let again = ehr.book(&clinic.jesse, slot).await;
        assert!(matches!(again, Err(EhrError::Conflict(_))), "{again:?}");
    }
    assert!(matches!(
        ehr.book(&clinic.morgan, "Slot/does-not-exist").await,
        Err(EhrError::NotFound)
    ));

    // Another patient's appointment is not found, and stays untouched.
    assert!(matches!(
        ehr.cancel(&clinic.morgan, &clinic.jesse_appointment).await,
        Err(EhrError::NotFound)
    ));
    assert!(matches!(
        ehr.reschedule(
            &clinic.morgan,
            &clinic.jesse_appointment,
            &clinic.patel_slots[1]
        )
        .await,
        Err(EhrError::NotFound)
    ));
    assert_eq!(
        server.get(&clinic.jesse_appointment).await["status"],
        "booked"
    );
    assert_eq!(server.get(&clinic.patel_slots[1]).await["status"], "free");

    // Reschedule: new slot booked, old appointment cancelled, old slot free.
    let moved = ehr
        .reschedule(&clinic.morgan, &booked.id, &clinic.patel_slots[1])
        .await
        .unwrap();
    assert_eq!(
        moved.slot_id.as_deref(),
        Some(clinic.patel_slots[1].as_str())
    );
    assert_eq!(server.get(&booked.id).await["status"], "cancelled");
    assert_eq!(server.get(&clinic.patel_slots[0]).await["status"], "free");
    assert_eq!(server.get(&clinic.patel_slots[1]).await["status"], "busy");

    // Cancel: appointment cancelled with a reason, slot free again.
    ehr.cancel(&clinic.morgan, &moved.id).await.unwrap();
    let cancelled = server.get(&moved.id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancelationReason"]["coding"][0]["code"], "pat");
    assert_eq!(server.get(&clinic.patel_slots[1]).await["status"], "free");
    assert_eq!(
        ehr.upcoming_appointments(&clinic.morgan, now)
            .await
            .unwrap()
            .len(),
        2
    );
    // Cancelling again is harmless.
    ehr.cancel(&clinic.morgan, &moved.id).await.unwrap();

    // Labs: the lab orders only, ready when a final report exists.
    let labs = ehr.lab_orders(&clinic.morgan).await.unwrap();
    let mut labs: Vec<_> = labs.iter().map(|l| (l.name.as_str(), l.status)).collect();
    labs.sort_by_key(|l| l.0);
    assert_eq!(
        labs,
        [
            ("Comprehensive metabolic panel", LabStatus::Pending),
            ("Lipid panel", LabStatus::Ready)
        ]
    );
    assert!(ehr.lab_orders(&clinic.jesse).await.unwrap().is_empty());

    // Refills.
    let refills = ehr.refills(&clinic.morgan).await.unwrap();
    let mut refills: Vec<_> = refills
        .iter()
        .map(|r| (r.medication.as_str(), r.status))
        .collect();
    refills.sort_by_key(|r| r.0);
    assert_eq!(
        refills,
        [
            ("Atorvastatin 20 mg tablet", RefillStatus::OnHold),
            ("Lisinopril 10 mg tablet", RefillStatus::Active)
        ]
    );

    // What the client wrote: Appointments created and cancelled, Slots
    // updated; all valid FHIR R4 by an independent validator.
    let written = server.written();
    let kinds: Vec<_> = written
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w["method"].as_str().unwrap(),
                w["resource"]["resourceType"].as_str().unwrap()
            )
        })
        .collect();
    assert!(kinds.contains(&"POST Appointment".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"PUT Appointment".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"PUT Slot".to_owned()), "{kinds:?}");
    let (ok, report) = validate(&server.written_file());
    assert!(
        ok,
        "the validator rejected what the client wrote:\n{report}"
    );
    assert!(
        report.contains(&format!("{} resources, 0 invalid", written.len())),
        "{report}"
    );
}

#[tokio::test]
async fn the_validator_rejects_an_appointment_with_a_bad_status() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    let bad = json!({"method": "POST", "resource": {"resourceType": "Appointment", "status": "bogus",
        "participant": [{"actor": {"reference": "Patient/x"}, "status": "accepted"}]}});
    let good = json!({"resourceType": "Appointment", "status": "booked",
        "participant": [{"actor": {"reference": "Patient/x"}, "status": "accepted"}]});
    std::fs::write(&file, format!("{good}\n{bad}\n")).unwrap();
    let (ok, report) = validate(&file);
    assert!(!ok, "{report}");
    assert!(report.contains("ok Appointment"), "{report}");
    assert!(
        report.contains("FAIL Appointment") && report.contains("bogus"),
        "{report}"
    );
}

#[tokio::test]
async fn concurrent_bookings_of_one_slot_leave_exactly_one_appointment() {
    let server = FhirServer::start();
    let clinic = seed_clinic(&server).await;
    let (a, b) = (server.client(), server.client());
    let slot = clinic.patel_slots[2].clone();
    let (first, second) = tokio::join!(a.book(&clinic.morgan, &slot), b.book(&clinic.jesse, &slot));
    let wins = [&first, &second].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{first:?} {second:?}");
    let loser = if first.is_ok() { &second } else { &first };
    assert!(matches!(loser, Err(EhrError::Conflict(_))), "{loser:?}");
    let bundle = server
        .get(&format!("Appointment?slot={slot}&status=booked"))
        .await;
    assert_eq!(bundle["total"], 1, "{bundle}");
    assert_eq!(server.get(&slot).await["status"], "busy");
    // Which race it was: both created an Appointment and the loser's
    // If-Match update of the Slot failed (then its Appointment was
    // withdrawn), or the loser already read the Slot as busy.
    let created = server
        .written()
        .iter()
        .filter(|w| w["method"] == "POST")
        .count();
    eprintln!("concurrent booking: {created} appointment(s) created");
    let (ok, report) = validate(&server.written_file());
    assert!(ok, "{report}");
}

#[tokio::test]
async fn an_expired_or_revoked_token_is_renewed_once() {
    let server = FhirServer::start();
    let clinic = seed_clinic(&server).await;
    server.admin(json!({"tokenLifetimeSecs": 2})).await;
    let ehr = server.client();
    ehr.refills(&clinic.morgan).await.unwrap();
    ehr.refills(&clinic.morgan).await.unwrap();
    assert_eq!(
        server.stats().await["tokensGranted"],
        1,
        "the token is cached"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    ehr.refills(&clinic.morgan).await.unwrap();
    let stats = server.stats().await;
    assert_eq!(stats["tokensGranted"], 2, "{stats}");
    assert_eq!(
        stats["unauthorized"], 0,
        "renewed before it expired: {stats}"
    );
    server
        .admin(json!({"tokenLifetimeSecs": 300, "revokeTokens": true}))
        .await;
    ehr.refills(&clinic.morgan).await.unwrap();
    let stats = server.stats().await;
    assert_eq!(stats["tokensGranted"], 3, "{stats}");
    assert_eq!(stats["unauthorized"], 1, "{stats}");
    assert_eq!(stats["assertionsRejected"], 0, "{stats}");
}

#[tokio::test]
async fn a_client_with_an_unregistered_key_is_refused() {
    let server = FhirServer::start();
    let clinic = seed_clinic(&server).await;
    let other = p384::SecretKey::random(&mut rand_core::OsRng)
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    let registered = server.config(Duration::from_secs(5), 0);
    let mut config = FhirConfig::new(
        registered.base_url.clone(),
        registered.token_url.clone(),
        CLIENT_ID,
        KEY_ID,
        SigningAlgorithm::Es384,
        &other,
    )
    .unwrap();
    config.retries = 0;
    let ehr = FhirEhr::new(&config, Arc::new(SystemClock)).unwrap();
    let result = ehr.refills(&clinic.morgan).await;
    assert!(matches!(result, Err(EhrError::Rejected(_))), "{result:?}");
    assert_eq!(server.stats().await["assertionsRejected"], 1);
}

#[tokio::test]
async fn a_slow_server_is_unavailable_within_the_time_out() {
    let server = FhirServer::start();
    seed_clinic(&server).await;
    let ehr = FhirEhr::new(
        &server.config(Duration::from_secs(1), 1),
        Arc::new(SystemClock),
    )
    .unwrap();
    // A token first, so what times out below is the FHIR request itself.
    assert!(ehr
        .find_patient(&query("1984-03-02", "Sample", None))
        .await
        .unwrap()
        .is_some());
    server.admin(json!({"delayMs": 4000})).await;
    let started = Instant::now();
    let result = ehr.find_patient(&query("1984-03-02", "Sample", None)).await;
    let elapsed = started.elapsed();
    let Err(EhrError::Unavailable(message)) = &result else {
        panic!("{result:?}");
    };
    assert!(message.contains("timed out"), "{message}");
    assert!(
        !message.contains("Sample") && !message.contains("1984"),
        "{message}"
    );
    // Two attempts of one second each plus the backoff.
    assert!(elapsed < Duration::from_millis(3000), "{elapsed:?}");
    // Back to normal: the same client works again.
    server.admin(json!({"delayMs": 0})).await;
    assert!(ehr
        .find_patient(&query("1984-03-02", "Sample", None))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_stopped_or_unreachable_server_is_unavailable_quickly() {
    let mut server = FhirServer::start();
    let clinic = seed_clinic(&server).await;
    let ehr = FhirEhr::new(
        &server.config(Duration::from_secs(2), 2),
        Arc::new(SystemClock),
    )
    .unwrap();
    ehr.refills(&clinic.morgan).await.unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let started = Instant::now();
    for result in [
        ehr.refills(&clinic.morgan).await.map(|_| ()),
        ehr.book(&clinic.morgan, &clinic.patel_slots[0])
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(EhrError::Unavailable(_))),
            "{result:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut nowhere = FhirConfig::new(
        format!("http://127.0.0.1:{port}/fhir/R4").parse().unwrap(),
        format!("http://127.0.0.1:{port}/oauth2/token")
            .parse()
            .unwrap(),
        CLIENT_ID,
        KEY_ID,
        SigningAlgorithm::Es384,
        &server.key_pem,
    )
    .unwrap();
    nowhere.timeout = Duration::from_secs(2);
    nowhere.retries = 1;
    let ehr = FhirEhr::new(&nowhere, Arc::new(SystemClock)).unwrap();
    let result = ehr.find_patient(&query("1984-03-02", "Sample", None)).await;
    let Err(EhrError::Unavailable(message)) = &result else {
        panic!("{result:?}");
    };
    assert!(
        !message.contains("Sample") && !message.contains("127.0.0.1"),
        "{message}"
    );
}

#[tokio::test]
async fn an_rs384_client_is_accepted_by_a_server_that_registered_its_rsa_key() {
    use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let key_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let server = FhirServer::start_with(SigningAlgorithm::Rs384, key_pem, &public);
    let clinic = seed_clinic(&server).await;
    let refills = server.client().refills(&clinic.morgan).await.unwrap();
    assert_eq!(refills.len(), 2);
    let stats = server.stats().await;
    assert_eq!(stats["tokensGranted"], 1, "{stats}");
    assert_eq!(stats["assertionsRejected"], 0, "{stats}");
}

/// A token endpoint that accepts every connection, reads the request and
/// never answers; the count of token requests it has read.
fn hung_token_endpoint() -> (u16, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                if seen.starts_with(b"POST /oauth2/token ") {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                // Hold the connection, silent, until the client gives up.
                while matches!(socket.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    (port, requests)
}

/// Issue 9 finding 15: one lock was held across the EHR token request, so
/// eleven patients verifying at once while the EHR hung waited 46-66 s, one
/// time-out after another. Now the ten callers below share one token
/// request and are all told the EHR is unavailable when it times out.
#[tokio::test]
async fn a_hung_token_endpoint_fails_ten_verifying_patients_together_not_in_line() {
    let (port, requests) = hung_token_endpoint();
    let key_pem = p384::SecretKey::random(&mut rand_core::OsRng)
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    let mut config = FhirConfig::new(
        format!("http://127.0.0.1:{port}/fhir/R4").parse().unwrap(),
        format!("http://127.0.0.1:{port}/oauth2/token")
            .parse()
            .unwrap(),
        CLIENT_ID,
        KEY_ID,
        SigningAlgorithm::Es384,
        &key_pem,
    )
    .unwrap();
    // The attacker's set-up: 2-second time-outs, two retries.
    config.timeout = Duration::from_secs(2);
    config.token_timeout = Duration::from_secs(2);
    config.retries = 2;
    let timeout = config.token_timeout;
    let ehr = Arc::new(FhirEhr::new(&config, Arc::new(SystemClock)).unwrap());
    let started = Instant::now();
    let mut patients = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let ehr = Arc::clone(&ehr);
        patients.spawn(async move {
            let result = ehr.find_patient(&query("1984-03-02", "Sample", None)).await;
            (result.map(|_| ()), started.elapsed())
        });
    }
    let mut waits = Vec::new();
    while let Some(joined) = patients.join_next().await {
        let (result, waited) = joined.unwrap();
        let Err(EhrError::Unavailable(message)) = &result else {
            panic!("{result:?}");
        };
        assert!(message.contains("timed out"), "{message}");
        assert!(!message.contains("127.0.0.1"), "{message}");
        assert!(waited < timeout + Duration::from_millis(500), "{waited:?}");
        waits.push(waited);
    }
    let total = started.elapsed();
    eprintln!(
        "hung token endpoint: 10 callers failed after {:?}..{:?}, all within {total:?}; {} token request(s)",
        waits.iter().min().unwrap(),
        waits.iter().max().unwrap(),
        requests.load(Ordering::SeqCst)
    );
    assert_eq!(waits.len(), 10);
    assert!(total < 2 * timeout, "{total:?}");
    assert_eq!(requests.load(Ordering::SeqCst), 1, "one shared request");
    // A patient arriving within the backoff is told at once, and the dead
    // EHR is not asked again.
    let at_once = Instant::now();
    let result = ehr.find_patient(&query("1984-03-02", "Sample", None)).await;
    assert!(
        matches!(result, Err(EhrError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        at_once.elapsed() < Duration::from_millis(200),
        "{:?}",
        at_once.elapsed()
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_token_request_is_retried_after_the_backoff_once_the_ehr_recovers() {
    let server = FhirServer::start();
    let clinic = seed_clinic(&server).await;
    let mut config = server.config(Duration::from_secs(5), 0);
    config.token_timeout = Duration::from_secs(1);
    let ehr = FhirEhr::new(&config, Arc::new(SystemClock)).unwrap();
    server.admin(json!({"delayMs": 3000})).await;
    let started = Instant::now();
    let result = ehr.refills(&clinic.morgan).await;
    let Err(EhrError::Unavailable(message)) = &result else {
        panic!("{result:?}");
    };
    assert!(message.contains("timed out"), "{message}");
    let failed_after = started.elapsed();
    assert!(
        failed_after < Duration::from_millis(1500),
        "{failed_after:?}"
    );
    server.admin(json!({"delayMs": 0})).await;
    // Within the backoff: the same answer at once.
    let at_once = Instant::now();
    assert!(matches!(
        ehr.refills(&clinic.morgan).await,
        Err(EhrError::Unavailable(_))
    ));
    assert!(at_once.elapsed() < Duration::from_millis(200));
    // After it, the next call asks again and the EHR, back, answers.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refills = ehr.refills(&clinic.morgan).await.unwrap();
    assert_eq!(refills.len(), 2);
    eprintln!("token request timed out after {failed_after:?}; recovered after the backoff");
}
