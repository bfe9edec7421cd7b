//! What the server mounts for the console (feature `ssr`): [`routes`].
//!
//! - `POST /console/api/<name>`: the server functions of [`crate::calls`],
//!   run with the backend in context.
//! - `GET /console/ws`: the realtime channel. The `Origin` must be the
//!   request's own origin; the backend decides whether the session may
//!   subscribe ([`ConsoleBackend::events`]); each [`Event`] then goes out as
//!   one JSON text frame.
//! - `GET /console/`: the console page (`index.html` of the Trunk build)
//!   with its strict CSP, and the build's other files under `/console/`.
//!
//! Nothing here logs: request details can carry PHI (a patient's name in a
//! queue entry) and session secrets.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Extensions, HeaderMap, HeaderName, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use crate::api::{ConsoleBackend, Event, Refusal, RequestFacts};
use crate::calls;

/// The console page's Content-Security-Policy: scripts, styles and
/// connections from this origin only, nothing inline, never framed.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// How often the realtime channel pings an idle console, so proxies keep
/// the connection open.
const PING_EVERY: Duration = Duration::from_secs(30);
/// The console sends nothing on the realtime channel but control frames.
const MAX_INCOMING: usize = 1024;

/// The client's address as the server determined it (for example behind a
/// trusted proxy). Put it in the request's extensions and the console
/// passes it on in [`RequestFacts::client`]; without it the peer address
/// (`ConnectInfo<SocketAddr>`) is used, when the server provides that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The server's public origin (`https://chat.clinic.example`). Put it in
/// the request's extensions and `/console/ws` requires exactly this
/// `Origin`; without it the `Origin` must be `http://` or `https://`
/// followed by the request's own `Host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin(pub String);

/// What the console's handlers share.
#[derive(Clone)]
struct Console {
    backend: Arc<dyn ConsoleBackend>,
    dist: Arc<PathBuf>,
}

/// The console's routes, all under `/console`, for the server to merge:
/// the server functions, the realtime channel and the console app built
/// into `dist` (the Trunk build's output, `dist-console/`).
pub fn routes<S>(backend: Arc<dyn ConsoleBackend>, dist: impl Into<PathBuf>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    register_calls();
    let console = Console {
        backend,
        dist: Arc::new(dist.into()),
    };
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(page))
        .route("/console/index.html", get(page))
        .route("/console/ws", get(realtime))
        .route("/console/api/{*name}", post(call))
        .route("/console/{*path}", get(asset))
        .with_state(console)
}

/// Registers every server function explicitly, so they are found whether or
/// not the linker kept their automatic registration.
fn register_calls() {
    use leptos::server_fn::axum::register_explicit;
    register_explicit::<calls::SignInCall>();
    register_explicit::<calls::SignOutCall>();
    register_explicit::<calls::MeCall>();
    register_explicit::<calls::QueueCall>();
    register_explicit::<calls::ConversationCall>();
    register_explicit::<calls::PickUpCall>();
    register_explicit::<calls::SendCall>();
    register_explicit::<calls::TypingCall>();
    register_explicit::<calls::HandBackCall>();
    register_explicit::<calls::CloseCall>();
    register_explicit::<calls::feedback::FeedbackCountsCall>();
}

/// What the backend needs to know about a request: the session cookie,
/// the `Origin`, the CSRF token (the call's argument, else the
/// `X-CSRF-Token` header) and the client's address.
pub(crate) fn request_facts(
    headers: &HeaderMap,
    extensions: &Extensions,
    csrf: Option<String>,
) -> RequestFacts {
    RequestFacts {
        session: session_cookie(headers),
        origin: header_text(headers, header::ORIGIN).map(str::to_owned),
        csrf: csrf.filter(|token| !token.is_empty()).or_else(|| {
            header_text(headers, HeaderName::from_static("x-csrf-token")).map(str::to_owned)
        }),
        client: extensions
            .get::<ClientAddr>()
            .map(|addr| addr.0)
            .or_else(|| {
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|peer| peer.0.ip())
            }),
    }
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The `carechat_staff` cookie's value, from any `Cookie` header.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == calls::SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// Whether the request's `Origin` is the request's own origin.
fn same_origin(headers: &HeaderMap, extensions: &Extensions, uri: &Uri) -> bool {
    let Some(origin) = header_text(headers, header::ORIGIN) else {
        return false;
    };
    if let Some(PublicOrigin(public)) = extensions.get::<PublicOrigin>() {
        return origin.eq_ignore_ascii_case(public.trim_end_matches('/'));
    }
    let host = header_text(headers, header::HOST)
        .or_else(|| uri.authority().map(|authority| authority.as_str()));
    let Some(host) = host else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// `POST /console/api/<name>`: one server function, with the backend in
/// its context.
async fn call(State(console): State<Console>, request: Request) -> Response {
    let backend = console.backend;
    leptos_axum::handle_server_fns_with_context(move || provide_context(backend.clone()), request)
        .await
        .into_response()
}

/// `GET /console/ws`: the realtime channel for a signed-in staff member.
async fn realtime(
    State(console): State<Console>,
    headers: HeaderMap,
    extensions: Extensions,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers, &extensions, &uri) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let facts = request_facts(&headers, &extensions, None);
    match console.backend.events(&facts).await {
        Ok(events) => upgrade
            .max_message_size(MAX_INCOMING)
            .on_upgrade(move |socket| forward(socket, events)),
        Err(Refusal::SignedOut) => StatusCode::UNAUTHORIZED.into_response(),
        Err(Refusal::Unavailable) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(_) => StatusCode::FORBIDDEN.into_response(),
    }
}

/// Sends each event as a JSON text frame until the console goes away or
/// the backend ends the subscription (the session ended). A console that
/// fell behind is disconnected (close code 1013): it reconnects and fetches
/// what it missed.
async fn forward(mut socket: WebSocket, mut events: Receiver<Event>) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let Ok(text) = serde_json::to_string(&event) else {
                        continue;
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    close(socket, 1013, "behind").await;
                    return;
                }
                Err(RecvError::Closed) => {
                    close(socket, 1000, "ended").await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// `GET /console/`: the console page, with its CSP and no caching.
async fn page(State(console): State<Console>) -> Response {
    match tokio::fs::read(console.dist.join("index.html")).await {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            html,
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            "The staff console is not built here: run scripts/build-console.\n",
        )
            .into_response(),
    }
}

/// `GET /console/<file>`: the Trunk build's scripts, WebAssembly and CSS.
async fn asset(State(console): State<Console>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/console")
        .unwrap_or("/")
        .to_owned();
    let Ok(uri) = path.parse::<Uri>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    parts.uri = uri;
    let files = ServeDir::new(console.dist.as_path()).append_index_html_on_directories(false);
    match files.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let map = headers(&[
            (header::COOKIE, "theme=dark"),
            (header::COOKIE, "a=1; carechat_staff=s3cr3t; b=2"),
        ]);
        assert_eq!(session_cookie(&map).as_deref(), Some("s3cr3t"));
        assert_eq!(session_cookie(&headers(&[(header::COOKIE, "x=1")])), None);
    }

    #[test]
    fn origin_must_match_the_host_or_the_public_origin() {
        let uri = Uri::from_static("/console/ws");
        let none = Extensions::new();
        let ok = headers(&[
            (header::HOST, "chat.example:8080"),
            (header::ORIGIN, "http://chat.example:8080"),
        ]);
        assert!(same_origin(&ok, &none, &uri));
        let foreign = headers(&[
            (header::HOST, "chat.example:8080"),
            (header::ORIGIN, "http://evil.example"),
        ]);
        assert!(!same_origin(&foreign, &none, &uri));
        assert!(!same_origin(
            &headers(&[(header::HOST, "chat.example")]),
            &none,
            &uri
        ));
        let mut public = Extensions::new();
        public.insert(PublicOrigin("https://chat.example:8080".into()));
        assert!(!same_origin(&ok, &public, &uri));
    }

    #[test]
    fn csrf_argument_wins_over_the_header() {
        let map = headers(&[(HeaderName::from_static("x-csrf-token"), "from-header")]);
        let facts = request_facts(&map, &Extensions::new(), Some("from-arg".into()));
        assert_eq!(facts.csrf.as_deref(), Some("from-arg"));
        let facts = request_facts(&map, &Extensions::new(), Some(String::new()));
        assert_eq!(facts.csrf.as_deref(), Some("from-header"));
    }
}
