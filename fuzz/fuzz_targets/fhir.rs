//! The FHIR JSON mapping (`ehr::fhir`, through `carechat::fuzzing::fhir`):
//! arbitrary JSON read as the resources an EHR answers with (each object
//! in the input, up to a bound), and every string in it read as a
//! reference, a path and a `next` link.
//!
//! Asserts, for references (what keeps the bearer token on the EHR's
//! server, and ids inside their resource type): a reference reduces to
//! `Type/id` or nothing, reducing again changes nothing, and its URL is
//! exactly the base followed by `Type/id`; any path `url_under` accepts
//! gives a URL that is the base followed by that path, unchanged, with no
//! query or fragment; a `next` link is followed only on the base's origin,
//! without credentials, under the base path. For resources: the name,
//! telecom, code, concept and instant readers return only what the
//! resource holds (the preferred name's family; a matching, not "old",
//! telecom entry, the mobile one first; at most one code per concept;
//! an instant that survives its FHIR rendering to the second); a patient
//! found among the participants is one of their references.

#![no_main]

use carechat::fuzzing::fhir as m;
use chrono::Datelike as _;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;
use url::Url;

/// At most this many strings and objects are checked per input.
const BOUND: usize = 256;

fn base() -> &'static Url {
    static BASE: OnceLock<Url> = OnceLock::new();
    BASE.get_or_init(|| Url::parse("https://ehr.example/fhir/R4/").expect("base"))
}

fn collect<'a>(value: &'a Value, strings: &mut Vec<&'a str>, objects: &mut Vec<&'a Value>) {
    if strings.len() + objects.len() >= BOUND {
        return;
    }
    match value {
        Value::String(s) => strings.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect(v, strings, objects)),
        Value::Object(map) => {
            objects.push(value);
            for (k, v) in map {
                strings.push(k);
                collect(v, strings, objects);
            }
        }
        _ => {}
    }
}

fn check_string(s: &str) {
    let base = base();
    if let Some(reference) = m::local_reference(s) {
        let (kind, id) = reference.split_once('/').expect("Type/id");
        assert!(
            m::is_resource_type(kind) && m::is_fhir_id(id),
            "{reference:?}"
        );
        assert_eq!(
            m::local_reference(&reference).as_deref(),
            Some(reference.as_str())
        );
        assert_eq!(
            m::checked_reference(kind, &reference).as_deref(),
            Some(reference.as_str())
        );
        let url = m::url_under(base, &reference)
            .unwrap_or_else(|| panic!("a local reference has no URL: {reference:?}"));
        assert_eq!(
            url.as_str(),
            format!("{base}{reference}"),
            "reference {s:?} does not name its own resource"
        );
    }
    if let Some(url) = m::url_under(base, s) {
        assert!(m::is_under(base, &url));
        assert_eq!(url.query(), None);
        assert_eq!(url.fragment(), None);
        assert_eq!(
            url.as_str(),
            format!("{base}{s}"),
            "path {s:?} was rewritten to {url}"
        );
    }
    // The kinds the client checks caller-given ids against.
    for kind in ["Patient", "Slot", "Appointment", "Practitioner"] {
        if let Some(checked) = m::checked_reference(kind, s) {
            assert_eq!(checked, s);
            assert!(
                m::url_under(base, &checked).is_some_and(|u| u.as_str() == format!("{base}{s}")),
                "checked reference {s:?} leaves its resource"
            );
        }
    }
    if let Ok(next) = Url::parse(s) {
        if m::is_under(base, &next) {
            assert_eq!(next.origin(), base.origin());
            assert!(next.username().is_empty() && next.password().is_none());
            assert!(next.path().starts_with(base.path()));
        }
    }
}

fn check_resource(resource: &Value) {
    // Names.
    let (display, family) = m::practitioner_name(resource);
    let preferred = m::preferred_name(&resource["name"]);
    let want_family = preferred
        .and_then(|n| n["family"].as_str())
        .unwrap_or_default();
    assert_eq!(family, want_family);
    if let Some(name) = preferred {
        if name["text"].is_string() {
            assert_eq!(Some(display.as_str()), name["text"].as_str());
        } else if !family.is_empty() {
            assert!(display.contains(&family), "{display:?} lacks {family:?}");
        }
    } else {
        assert!(display.is_empty());
    }

    // Telecom.
    for system in ["phone", "email"] {
        let entries: Vec<&Value> = resource["telecom"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["system"] == system && t["value"].is_string() && t["use"] != "old")
            .collect();
        let got = m::telecom(resource, system);
        let want = entries
            .iter()
            .find(|t| t["use"] == "mobile")
            .or_else(|| entries.first())
            .and_then(|t| t["value"].as_str());
        assert_eq!(got.as_deref(), want);
    }

    // Codes and concepts.
    for field in ["serviceType", "category", "code"] {
        let concepts = &resource[field];
        let codes = m::codes(concepts);
        assert!(codes.len() <= concepts.as_array().map_or(0, Vec::len));
        if let Some(text) = m::concept_text(concepts) {
            let held = concepts["text"].as_str() == Some(text.as_str())
                || concepts["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["display"].as_str() == Some(text.as_str()));
            assert!(held, "{text:?} is not in the concept");
        }
    }
    let _ = m::is_lab_order(resource);
    let _ = m::refill_status(resource["status"].as_str().unwrap_or_default());

    // Instants.
    for field in ["start", "end", "authoredOn", "created"] {
        // Years outside 1..=9999 have no RFC 3339 form to read back.
        if let Some(t) = m::instant(&resource[field]).filter(|t| (1..=9999).contains(&t.year())) {
            let rendered = m::fhir_instant(t);
            let back = m::instant(&json!(rendered)).expect("a rendered instant reads back");
            assert_eq!(back.timestamp(), t.timestamp(), "{rendered}");
        }
    }

    // Participants and subjects.
    for p in resource["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .take(8)
    {
        if let Some(patient) = p["actor"]["reference"]
            .as_str()
            .and_then(m::local_reference)
        {
            assert!(m::has_participant(resource, &patient));
        }
    }
    if let Some(subject) = resource["subject"]["reference"]
        .as_str()
        .and_then(m::local_reference)
    {
        assert!(m::refers_to(&resource["subject"], &subject));
    }
}

fuzz_target!(|data: &[u8]| {
    let value = match serde_json::from_slice::<Value>(data) {
        Ok(value) => value,
        // Not JSON: the bytes as one string (a reference, a path, a link).
        Err(_) => match std::str::from_utf8(data) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => return,
        },
    };
    let (mut strings, mut objects) = (Vec::new(), Vec::new());
    collect(&value, &mut strings, &mut objects);
    for s in strings {
        check_string(s);
    }
    for resource in objects {
        check_resource(resource);
    }
});
