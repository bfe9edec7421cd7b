//! Everything the server answers over plain HTTP besides the protocol: the
//! loader script, the embed page the iframe opens, the widget's static
//! files, `/healthz`, the security headers on every response, and the demo
//! clinic web site used by the quick start and the end-to-end tests.
//!
//! The embed page is the one HTML page on the CareChat origin. It carries the
//! pinned identity key and the exact origin of the site embedding it, and its
//! CSP lets only that site frame it (`frame-ancestors`), and only this origin
//! supply scripts (`script-src 'self' 'wasm-unsafe-eval'`, nothing inline).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_http::services::ServeDir;

use crate::config::normalize_origin;
use crate::{transport, AppState};

/// The loader script, compiled in: the one file every clinic page loads.
const LOADER_JS: &str = include_str!("../../public/widget.js");
/// Where the server writes the embed page's meta tags.
const HEAD_MARKER: &str = "<!-- carechat:head -->";
/// Largest request body outside the handshake (which has its own limit).
const MAX_BODY: usize = 16 * 1024;
/// How long one HTTP request may take, body included, so a client that
/// trickles bytes cannot hold a connection and its memory indefinitely.
/// (A WebSocket is upgraded at once and lives on outside this limit.)
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The CSP for everything except the embed page: nothing may load, run or
/// frame it.
const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The chat server's routes.
pub fn router(app: Arc<AppState>) -> Router {
    let assets = ServeDir::new(&app.config.assets_dir).append_index_html_on_directories(false);
    let limited = Router::new()
        .route("/healthz", get(healthz))
        .route("/widget.js", get(loader))
        .route("/embed", get(embed))
        .route("/v1/identity", get(transport::identity))
        .route("/v1/ws", get(transport::websocket))
        .nest_service("/app", assets)
        .fallback(not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY));
    // The handshake reads its body itself, with its own smaller limit, so
    // that an oversized hello gets the protocol's 400 and error code.
    Router::new()
        .route("/v1/handshake", post(transport::handshake))
        .merge(limited)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            security_headers,
        ))
        .with_state(app)
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found\n").into_response()
}

/// Headers every response carries unless its handler chose its own.
async fn security_headers(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let is_app_asset = request.uri().path().starts_with("/app/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut default = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    default(header::CONTENT_SECURITY_POLICY, DEFAULT_CSP);
    default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(header::REFERRER_POLICY, "no-referrer");
    default(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    );
    default(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    default(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    default(
        header::CACHE_CONTROL,
        if is_app_asset { "no-cache" } else { "no-store" },
    );
    if app.config.tls.is_some() {
        default(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        );
    }
    response
}

/// `GET /widget.js`: loaded cross-origin by clinic pages.
async fn loader() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        LOADER_JS,
    )
        .into_response()
}

#[derive(Deserialize)]
struct EmbedQuery {
    clinic: Option<String>,
    host: Option<String>,
}

fn plain_page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

fn escape_attr(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `GET /embed?clinic=…&host=…`: the page inside the iframe.
async fn embed(State(app): State<Arc<AppState>>, Query(query): Query<EmbedQuery>) -> Response {
    if query.clinic.as_deref().unwrap_or(&app.config.clinic.id) != app.config.clinic.id {
        return plain_page(StatusCode::NOT_FOUND, "Unknown clinic.");
    }
    let Some(host) = query.host.as_deref().and_then(normalize_origin) else {
        return plain_page(
            StatusCode::BAD_REQUEST,
            "The embedding page's origin is missing.",
        );
    };
    if !app.config.allowed_origins.contains(&host) {
        tracing::warn!(%host, "embed refused for a site not in server.allowed_origins");
        return plain_page(
            StatusCode::FORBIDDEN,
            "This web site is not allowed to embed the clinic's chat.",
        );
    }
    let template_path = app.config.assets_dir.join("index.html");
    let Ok(template) = tokio::fs::read_to_string(&template_path).await else {
        tracing::error!(path = %template_path.display(), "widget not built: embed page template missing");
        return plain_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The chat is not available right now. Please call the clinic.",
        );
    };
    let meta = format!(
        "<meta name=\"carechat-identity-key\" content=\"{}\">\n<meta name=\"carechat-host-origin\" content=\"{}\">\n<meta name=\"carechat-clinic-name\" content=\"{}\">",
        app.identity.public().to_b64u(),
        escape_attr(&host),
        escape_attr(&app.config.clinic.name),
    );
    let page = template.replacen(HEAD_MARKER, &meta, 1);
    let csp = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         connect-src 'self' {ws}; img-src 'self' data:; font-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors {host}",
        ws = websocket_origin(&app.config.public_url),
    );
    let mut response = Html(page).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `ws://host` for `http://host`, `wss://host` for `https://host`: CSP's
/// `'self'` does not cover WebSocket schemes in every browser.
fn websocket_origin(public_url: &str) -> String {
    public_url
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1)
}

/// The demo clinic's web site: a different origin from the chat server, as a
/// real clinic's site would be. `index.html` gets the chat origin filled in.
pub fn demo_site_router(dir: PathBuf, chat_origin: String) -> Router {
    let index = {
        let dir = dir.clone();
        move || demo_index(dir.clone(), chat_origin.clone())
    };
    Router::new()
        .route("/", get(index))
        .fallback_service(ServeDir::new(dir))
}

async fn demo_index(dir: PathBuf, chat_origin: String) -> Response {
    let Ok(page) = tokio::fs::read_to_string(dir.join("index.html")).await else {
        return plain_page(StatusCode::NOT_FOUND, "demo site not found");
    };
    let page = page.replace("{{CARECHAT_ORIGIN}}", &chat_origin);
    // The demo site shows that a host page with a strict CSP of its own can
    // embed the chat: it needs only the loader's origin for script and frame.
    let csp = format!(
        "default-src 'self'; script-src 'self' {chat_origin}; frame-src {chat_origin}; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'"
    );
    let mut response = Html(page).into_response();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}
