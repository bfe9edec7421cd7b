//! Client messages: `read_client_message` on arbitrary bytes (a frame's
//! plaintext, as transport.rs reads it).
//!
//! Asserts: a message that reads was a JSON object, re-serializes to JSON
//! that reads back to the same message, and keeps the input's `type` tag; a
//! "malformed feedback" verdict (which keeps the session going) is only
//! ever given to a JSON object (its values read leniently) whose `type` is
//! `feedback` and that is not a message; nothing else that serde would
//! read as a message is refused, except what is not a JSON object.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use protocol::message::{read_client_message, UnreadableMessage};
use protocol::ClientMessage;
use serde::de::IgnoredAny;
use serde_json::Value;

/// The input's `type`, read leniently: the other values may be anything,
/// bytes that are not UTF-8 and lone surrogate escapes included (serde
/// skips what it ignores without checking it).
#[derive(serde::Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    message_type: String,
}

fn is_object(data: &[u8]) -> bool {
    serde_json::from_slice::<BTreeMap<String, IgnoredAny>>(data).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let type_tag = serde_json::from_slice::<Shape>(data)
        .ok()
        .map(|s| s.message_type);
    match read_client_message(data) {
        Ok(message) => {
            assert!(is_object(data), "a message that is not a JSON object");
            let json = serde_json::to_vec(&message).expect("a message serializes");
            assert_eq!(
                read_client_message(&json).as_ref(),
                Ok(&message),
                "{}",
                String::from_utf8_lossy(&json)
            );
            let written: Value = serde_json::from_slice(&json).expect("own JSON");
            if let Some(tag) = &type_tag {
                assert_eq!(
                    written["type"].as_str(),
                    Some(tag.as_str()),
                    "the type tag changed"
                );
            }
        }
        Err(UnreadableMessage::Feedback) => {
            assert!(is_object(data), "not a JSON object");
            assert_eq!(type_tag.as_deref(), Some("feedback"));
            assert!(serde_json::from_slice::<ClientMessage>(data).is_err());
        }
        Err(UnreadableMessage::NotAMessage) => {
            assert!(
                !is_object(data) || serde_json::from_slice::<ClientMessage>(data).is_err(),
                "a message was refused"
            );
        }
    }
});
