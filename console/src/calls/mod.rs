//! The console's server functions: one per [`ConsoleBackend`] method, under
//! `/console/api/<name>` (form-encoded POST in, JSON out).
//!
//! On the server (feature `ssr`) each body finds the backend in context
//! (`routes` provides it), gathers the [`RequestFacts`] (the `carechat_staff`
//! cookie, the `Origin` header, the `csrf` argument or the `X-CSRF-Token`
//! header, the client's address) and calls the one method; it decides
//! nothing itself. A [`Refusal`] travels as a `ServerFnError::ServerError`
//! whose message is `refused:<snake_case name>`; [`refusal_of`] turns any
//! failed call back into a [`Refusal`] in the browser.
//!
//! [`ConsoleBackend`]: crate::api::ConsoleBackend
//! [`RequestFacts`]: crate::api::RequestFacts

use leptos::prelude::*;

pub mod admin;
pub mod feedback;
pub mod passkey;
pub mod records;

use crate::api::{Conversation, Me, QueueEntry, Refusal};

/// The prefix every server function's URL starts with.
pub const API_PREFIX: &str = "/console/api";
/// The staff session cookie's name.
pub const SESSION_COOKIE: &str = "carechat_staff";
/// What a refused call's error message starts with.
const REFUSED: &str = "refused:";

/// The snake_case name a refusal travels as (the same as its serde name).
pub fn refusal_name(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::SignedOut => "signed_out",
        Refusal::BadCredentials => "bad_credentials",
        Refusal::Locked => "locked",
        Refusal::Throttled => "throttled",
        Refusal::BadRequest => "bad_request",
        Refusal::NotAllowed => "not_allowed",
        Refusal::Gone => "gone",
        Refusal::Taken => "taken",
        Refusal::Invalid => "invalid",
        Refusal::Unavailable => "unavailable",
    }
}

/// The refusal a name stands for; `None` for anything else.
pub fn refusal_from_name(name: &str) -> Option<Refusal> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// The error a refused call answers with.
pub fn refused(refusal: Refusal) -> ServerFnError {
    ServerFnError::ServerError(format!("{REFUSED}{}", refusal_name(refusal)))
}

/// What a failed call means to the console: the backend's refusal, or
/// [`Refusal::Unavailable`] when the call failed any other way (network,
/// server error, undecodable answer).
pub fn refusal_of(error: &ServerFnError) -> Refusal {
    match error {
        ServerFnError::ServerError(message) => message
            .strip_prefix(REFUSED)
            .and_then(refusal_from_name)
            .unwrap_or(Refusal::Unavailable),
        _ => Refusal::Unavailable,
    }
}

/// Signs in with username, password and the 6-digit code from the
/// authenticator app; sets the session cookie.
#[server(name = SignInCall, prefix = "/console/api", endpoint = "sign_in")]
pub async fn sign_in(
    /// The staff member's username.
    username: String,
    /// Their password.
    password: String,
    /// The 6-digit code from their authenticator app.
    code: String,
) -> Result<Me, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    let (me, cookie) = backend
        .sign_in(&facts, &username, &password, &code)
        .await
        .map_err(refused)?;
    ssr::set_cookie(&cookie)?;
    Ok(me)
}

/// Signs out; clears the session cookie.
#[server(name = SignOutCall, prefix = "/console/api", endpoint = "sign_out")]
pub async fn sign_out(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
) -> Result<(), ServerFnError> {
    let (backend, facts) = ssr::context(Some(csrf)).await?;
    let cookie = backend.sign_out(&facts).await.map_err(refused)?;
    ssr::set_cookie(&cookie)
}

/// Who is signed in.
#[server(name = MeCall, prefix = "/console/api", endpoint = "me")]
pub async fn me() -> Result<Me, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.me(&facts).await.map_err(refused)
}

/// The queue, crisis chats first.
#[server(name = QueueCall, prefix = "/console/api", endpoint = "queue")]
pub async fn queue() -> Result<Vec<QueueEntry>, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.queue(&facts).await.map_err(refused)
}

/// One conversation with what was said so far.
#[server(name = ConversationCall, prefix = "/console/api", endpoint = "conversation")]
pub async fn conversation(
    /// The handoff id ([`QueueEntry::id`]).
    id: String,
) -> Result<Conversation, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.conversation(&facts, &id).await.map_err(refused)
}

/// Takes the conversation over from the assistant.
#[server(name = PickUpCall, prefix = "/console/api", endpoint = "pick_up")]
pub async fn pick_up(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
    /// The handoff id ([`QueueEntry::id`]).
    id: String,
) -> Result<(), ServerFnError> {
    let (backend, facts) = ssr::context(Some(csrf)).await?;
    backend.pick_up(&facts, &id).await.map_err(refused)
}

/// Sends a message to the patient.
#[server(name = SendCall, prefix = "/console/api", endpoint = "send")]
pub async fn send(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
    /// The handoff id ([`QueueEntry::id`]).
    id: String,
    /// The message.
    text: String,
) -> Result<(), ServerFnError> {
    let (backend, facts) = ssr::context(Some(csrf)).await?;
    backend.send(&facts, &id, &text).await.map_err(refused)
}

/// Tells the patient the staff member is typing.
#[server(name = TypingCall, prefix = "/console/api", endpoint = "typing")]
pub async fn typing(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
    /// The handoff id ([`QueueEntry::id`]).
    id: String,
) -> Result<(), ServerFnError> {
    let (backend, facts) = ssr::context(Some(csrf)).await?;
    backend.typing(&facts, &id).await.map_err(refused)
}

/// Hands the conversation back to the assistant.
#[server(name = HandBackCall, prefix = "/console/api", endpoint = "hand_back")]
pub async fn hand_back(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
    /// The handoff id ([`QueueEntry::id`]).
    id: String,
) -> Result<(), ServerFnError> {
    let (backend, facts) = ssr::context(Some(csrf)).await?;
    backend.hand_back(&facts, &id).await.map_err(refused)
}

/// Closes the conversation.
#[server(name = CloseCall, prefix = "/console/api", endpoint = "close")]
pub async fn close(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
    /// The handoff id ([`QueueEntry::id`]).
    id: String,
) -> Result<(), ServerFnError> {
    let (backend, facts) = ssr::context(Some(csrf)).await?;
    backend.close(&facts, &id).await.map_err(refused)
}

/// The server side of the calls: finding the backend and the request's facts.
#[cfg(feature = "ssr")]
mod ssr {
    use std::sync::Arc;

    use axum::http::request::Parts;
    use axum::http::{header, HeaderValue};
    use leptos::prelude::*;

    use super::refused;
    use crate::api::{ConsoleBackend, Refusal, RequestFacts};

    /// The backend `routes` put in context, and this request's facts, with
    /// the call's `csrf` argument if it has one.
    pub(super) async fn context(
        csrf: Option<String>,
    ) -> Result<(Arc<dyn ConsoleBackend>, RequestFacts), ServerFnError> {
        let backend = use_context::<Arc<dyn ConsoleBackend>>()
            .ok_or_else(|| refused(Refusal::Unavailable))?;
        let parts: Parts = leptos_axum::extract()
            .await
            .map_err(|_| refused(Refusal::Unavailable))?;
        Ok((
            backend,
            crate::server::request_facts(&parts.headers, &parts.extensions, csrf),
        ))
    }

    /// Adds `Set-Cookie: cookie` to the call's response.
    pub(super) fn set_cookie(cookie: &str) -> Result<(), ServerFnError> {
        let response = use_context::<leptos_axum::ResponseOptions>()
            .ok_or_else(|| refused(Refusal::Unavailable))?;
        let value = HeaderValue::from_str(cookie).map_err(|_| refused(Refusal::Unavailable))?;
        response.append_header(header::SET_COOKIE, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_survives_the_trip() {
        for refusal in [
            Refusal::SignedOut,
            Refusal::BadCredentials,
            Refusal::Locked,
            Refusal::Throttled,
            Refusal::BadRequest,
            Refusal::NotAllowed,
            Refusal::Gone,
            Refusal::Taken,
            Refusal::Invalid,
            Refusal::Unavailable,
        ] {
            let name = serde_json::to_value(refusal).unwrap_or_default();
            assert_eq!(name.as_str(), Some(refusal_name(refusal)));
            assert_eq!(refusal_of(&refused(refusal)), refusal);
        }
    }

    #[test]
    fn other_failures_are_unavailable() {
        assert_eq!(
            refusal_of(&ServerFnError::Request("offline".into())),
            Refusal::Unavailable
        );
        assert_eq!(
            refusal_of(&ServerFnError::ServerError("refused:nonsense".into())),
            Refusal::Unavailable
        );
    }
}
