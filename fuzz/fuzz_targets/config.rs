//! The configuration file: `RawConfig::parse` (the pure entry point behind
//! `RawConfig::load`) on arbitrary text, then `RawConfig::validate` on what
//! parsed, as `carechat serve` does with the built-in FAQ.
//!
//! Asserts: a parse failure is a `Parse` error naming the file; a parsed
//! config validates the same way twice (a clone re-validates to the same
//! configuration or the same error); a validated configuration keeps every
//! documented limit: session limits within the protocol's (1 s..15 min idle,
//! 1 s..12 h absolute), non-zero rate limits, at least one allowed origin,
//! every origin and the public URL in normalized form (normalizing again
//! changes nothing), the clinic's texts filled in and its id script-tag safe;
//! a validation failure names a setting and what is wrong.
//!
//! Inputs that set a `private_key_file` are parsed but not validated:
//! validation reads that file, and a fuzzer must not read arbitrary paths.

#![no_main]

use carechat::config::{normalize_origin, Config, ConfigError, RawConfig, MAX_ABSOLUTE, MAX_IDLE};
use libfuzzer_sys::fuzz_target;

fn names_a_key_file(table: &toml::Table) -> bool {
    table.iter().any(|(key, value)| {
        key == "private_key_file"
            || match value {
                toml::Value::Table(t) => names_a_key_file(t),
                toml::Value::Array(items) => items.iter().any(|v| match v {
                    toml::Value::Table(t) => names_a_key_file(t),
                    _ => false,
                }),
                _ => false,
            }
    })
}

/// The parts of a configuration compared between two validations (the
/// whole `Debug` would include the FAQ and cost more than the validation).
fn summary(config: &Config) -> String {
    format!(
        "{} {} {:?} {:?} {:?} {} {} {} {} {:?} {:?}",
        config.listen,
        config.public_url,
        config.allowed_origins,
        config.idle_timeout,
        config.absolute_timeout,
        config.handshakes_per_minute,
        config.max_sessions,
        config.clinic.id,
        config.timezone,
        config.tls.as_ref().map(|t| (&t.cert, &t.key)),
        config.data_dir,
    )
}

fn check(config: &Config) {
    let idle = config.idle_timeout.as_secs();
    assert!((1..=MAX_IDLE.as_secs()).contains(&idle), "idle {idle}");
    let absolute = config.absolute_timeout.as_secs();
    assert!(
        (1..=MAX_ABSOLUTE.as_secs()).contains(&absolute),
        "absolute {absolute}"
    );
    assert!(config.handshakes_per_minute > 0);
    assert!(config.max_sessions > 0);
    assert!(!config.allowed_origins.is_empty());
    for origin in &config.allowed_origins {
        assert_eq!(
            normalize_origin(origin).as_deref(),
            Some(origin.as_str()),
            "origin {origin:?}"
        );
    }
    assert_eq!(
        normalize_origin(&config.public_url).as_deref(),
        Some(config.public_url.as_str()),
        "public_url {:?}",
        config.public_url
    );
    let clinic = &config.clinic;
    for value in [
        &clinic.id,
        &clinic.name,
        &clinic.phone,
        &clinic.policy_version,
        &clinic.disclaimer,
        &clinic.locale,
    ] {
        assert!(!value.trim().is_empty());
    }
    assert!(clinic
        .id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let raw = match RawConfig::parse(text, "fuzz.toml") {
        Ok(raw) => raw,
        Err(e) => {
            assert!(matches!(e, ConfigError::Parse { .. }), "{e:?}");
            assert!(e.to_string().contains("fuzz.toml"), "{e}");
            return;
        }
    };
    if toml::from_str::<toml::Table>(text).map_or(true, |t| names_a_key_file(&t)) {
        return;
    }
    let first = raw.clone().validate();
    let second = raw.validate();
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            check(a);
            assert_eq!(summary(a), summary(b), "validation is not repeatable");
        }
        (Err(a), Err(b)) => {
            assert!(matches!(a, ConfigError::Invalid { .. }), "{a:?}");
            assert_eq!(a.to_string(), b.to_string(), "validation is not repeatable");
            let ConfigError::Invalid { setting, problem } = a else {
                unreachable!()
            };
            assert!(!setting.is_empty() && !problem.trim().is_empty(), "{a}");
        }
        _ => panic!("validated once and not again: {first:?} / {second:?}"),
    }
});
