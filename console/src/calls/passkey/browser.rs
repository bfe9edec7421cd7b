//! The browser's half of a passkey ceremony: `navigator.credentials`.
//!
//! The server's options are WebAuthn's JSON (binary fields in base64url);
//! the browser's API wants `ArrayBuffer`s there, and answers with
//! `ArrayBuffer`s that the server wants back in base64url. This module
//! converts both ways with `js-sys` (no script of its own, so the page's
//! CSP stays `script-src 'self'`) and calls `create` or `get`.
//!
//! It does not decide anything: the server verifies every answer.

use js_sys::{Array, ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why the browser gave no credential. None carries the browser's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserRefusal {
    /// This browser has no WebAuthn (or the page is not a secure context).
    Unsupported,
    /// The person cancelled, the time ran out, or no passkey on this
    /// device fits (browsers do not say which, on purpose).
    Cancelled,
    /// The authenticator already holds a passkey for this account.
    AlreadyRegistered,
    /// Anything else (malformed options, an authenticator error).
    Failed,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
pub fn b64u_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// base64url, with or without padding (standard `+/` also accepted);
/// `None` for anything else.
pub fn b64u_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    // A lone leftover symbol (6 bits) cannot come from whole bytes.
    (bits < 6).then_some(out)
}

fn get(target: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
}

fn set(target: &JsValue, key: &str, value: &JsValue) -> Result<(), JsValue> {
    Reflect::set(target, &JsValue::from_str(key), value).map(|_| ())
}

/// Replaces the base64url string at `target[key]` with an `ArrayBuffer`.
fn to_buffer(target: &JsValue, key: &str) -> Result<(), JsValue> {
    let text = get(target, key)?
        .as_string()
        .ok_or_else(|| JsValue::from_str("not base64url"))?;
    let bytes = b64u_decode(&text).ok_or_else(|| JsValue::from_str("not base64url"))?;
    set(target, key, &Uint8Array::from(bytes.as_slice()).buffer())
}

/// `ids` (an array of `{id: "<base64url>"}`), each id an `ArrayBuffer`.
fn ids_to_buffers(list: &JsValue) -> Result<(), JsValue> {
    if list.is_undefined() || list.is_null() {
        return Ok(());
    }
    for item in Array::from(list).iter() {
        to_buffer(&item, "id")?;
    }
    Ok(())
}

/// The bytes of `target[key]` (an `ArrayBuffer`) in base64url.
fn buffer_text(target: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    let value = get(target, key)?;
    let buffer: ArrayBuffer = value.dyn_into()?;
    Ok(JsValue::from_str(&b64u_encode(
        &Uint8Array::new(&buffer).to_vec(),
    )))
}

/// Calls `target.name()` if it is a function; `undefined` otherwise.
fn call_if_there(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    match get(target, name)?.dyn_into::<Function>() {
        Ok(f) => f.call0(target),
        Err(_) => Ok(JsValue::UNDEFINED),
    }
}

fn refusal_of(error: &JsValue) -> BrowserRefusal {
    match get(error, "name")
        .ok()
        .and_then(|n| n.as_string())
        .as_deref()
    {
        Some("NotAllowedError" | "AbortError") => BrowserRefusal::Cancelled,
        Some("InvalidStateError") => BrowserRefusal::AlreadyRegistered,
        Some("NotSupportedError" | "SecurityError") => BrowserRefusal::Unsupported,
        _ => BrowserRefusal::Failed,
    }
}

/// `navigator.credentials[method]({publicKey})`, awaited.
async fn ask(method: &str, options: &JsValue) -> Result<JsValue, BrowserRefusal> {
    let window: JsValue = js_sys::global().into();
    let has_webauthn = get(&window, "PublicKeyCredential")
        .map(|v| !v.is_undefined())
        .unwrap_or(false);
    let credentials = get(&window, "navigator")
        .and_then(|navigator| get(&navigator, "credentials"))
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null());
    let Some(credentials) = credentials.filter(|_| has_webauthn) else {
        return Err(BrowserRefusal::Unsupported);
    };
    let call: Function = get(&credentials, method)
        .and_then(|f| f.dyn_into())
        .map_err(|_| BrowserRefusal::Unsupported)?;
    let promise: Promise = call
        .call1(&credentials, options)
        .and_then(|p| p.dyn_into())
        .map_err(|e| refusal_of(&e))?;
    let credential = JsFuture::from(promise).await.map_err(|e| refusal_of(&e))?;
    if credential.is_null() || credential.is_undefined() {
        return Err(BrowserRefusal::Cancelled);
    }
    Ok(credential)
}

fn parse_options(options: &str) -> Result<(JsValue, JsValue), BrowserRefusal> {
    let parsed = JSON::parse(options).map_err(|_| BrowserRefusal::Failed)?;
    let public_key = get(&parsed, "publicKey").map_err(|_| BrowserRefusal::Failed)?;
    if !public_key.is_object() {
        return Err(BrowserRefusal::Failed);
    }
    to_buffer(&public_key, "challenge").map_err(|_| BrowserRefusal::Failed)?;
    Ok((parsed, public_key))
}

fn stringify(value: &JsValue) -> Result<String, BrowserRefusal> {
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or(BrowserRefusal::Failed)
}

/// Creates a passkey with the server's creation options (JSON); answers
/// the new credential as JSON for the server.
///
/// # Errors
/// Why the browser gave none.
pub async fn create(options: &str) -> Result<String, BrowserRefusal> {
    let (parsed, public_key) = parse_options(options)?;
    let prepared = (|| -> Result<(), JsValue> {
        to_buffer(&get(&public_key, "user")?, "id")?;
        ids_to_buffers(&get(&public_key, "excludeCredentials")?)
    })();
    prepared.map_err(|_| BrowserRefusal::Failed)?;
    let credential = ask("create", &parsed).await?;
    let answer = (|| -> Result<JsValue, JsValue> {
        let response = get(&credential, "response")?;
        let out_response = Object::new();
        set(
            &out_response,
            "attestationObject",
            &buffer_text(&response, "attestationObject")?,
        )?;
        set(
            &out_response,
            "clientDataJSON",
            &buffer_text(&response, "clientDataJSON")?,
        )?;
        let transports = call_if_there(&response, "getTransports")?;
        if Array::is_array(&transports) {
            set(&out_response, "transports", &transports)?;
        }
        let extensions = Object::new();
        let results = call_if_there(&credential, "getClientExtensionResults")?;
        if results.is_object() {
            let props = get(&results, "credProps")?;
            if props.is_object() {
                set(&extensions, "credProps", &props)?;
            }
        }
        let out = Object::new();
        set(&out, "id", &get(&credential, "id")?)?;
        set(&out, "rawId", &buffer_text(&credential, "rawId")?)?;
        set(&out, "type", &get(&credential, "type")?)?;
        set(&out, "response", &out_response)?;
        set(&out, "extensions", &extensions)?;
        Ok(out.into())
    })()
    .map_err(|_| BrowserRefusal::Failed)?;
    stringify(&answer)
}

/// Signs in with a passkey, given the server's request options (JSON);
/// answers the assertion as JSON for the server.
///
/// # Errors
/// Why the browser gave none.
pub async fn get_assertion(options: &str) -> Result<String, BrowserRefusal> {
    let (parsed, public_key) = parse_options(options)?;
    get(&public_key, "allowCredentials")
        .and_then(|list| ids_to_buffers(&list))
        .map_err(|_| BrowserRefusal::Failed)?;
    let credential = ask("get", &parsed).await?;
    let answer = (|| -> Result<JsValue, JsValue> {
        let response = get(&credential, "response")?;
        let out_response = Object::new();
        set(
            &out_response,
            "authenticatorData",
            &buffer_text(&response, "authenticatorData")?,
        )?;
        set(
            &out_response,
            "clientDataJSON",
            &buffer_text(&response, "clientDataJSON")?,
        )?;
        set(
            &out_response,
            "signature",
            &buffer_text(&response, "signature")?,
        )?;
        let handle = get(&response, "userHandle")?;
        let handle = if handle.is_null() || handle.is_undefined() {
            JsValue::NULL
        } else {
            buffer_text(&response, "userHandle")?
        };
        set(&out_response, "userHandle", &handle)?;
        let out = Object::new();
        set(&out, "id", &get(&credential, "id")?)?;
        set(&out, "rawId", &buffer_text(&credential, "rawId")?)?;
        set(&out, "type", &get(&credential, "type")?)?;
        set(&out, "response", &out_response)?;
        set(&out, "extensions", &Object::new())?;
        Ok(out.into())
    })()
    .map_err(|_| BrowserRefusal::Failed)?;
    stringify(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..70u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(250))
                .collect();
            let text = b64u_encode(&bytes);
            assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
            assert_eq!(b64u_decode(&text), Some(bytes));
        }
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        assert_eq!(b64u_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64u_encode(b"fooba"), "Zm9vYmE");
        assert_eq!(b64u_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64u_decode("-_8=").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(b64u_decode("+/8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(b64u_decode("a"), None);
        assert_eq!(b64u_decode("ab$d"), None);
    }
}
