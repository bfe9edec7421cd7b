//! Everything the server answers over plain HTTP besides the protocol: the
//! loader script, the embed page the iframe opens, the widget's static
//! files, `/healthz` (liveness) and `/readyz` (readiness, see
//! [`crate::health`]), the security headers on every response, and the demo
//! clinic web site used by the quick start and the end-to-end tests.
//!
//! The embed page is the one HTML page on the CareChat origin. It carries the
//! pinned identity key and the exact origin of the site embedding it, and its
//! CSP lets only that site frame it (`frame-ancestors`), and only this origin
//! supply scripts (`script-src 'self' 'wasm-unsafe-eval'`, nothing inline).
//! It also carries every word the widget shows, in every language, as a JSON
//! data block (`type="application/json"`, never executed, so the CSP needs
//! no exception), and starts in the patient's language: the loader's
//! `locale` (the site's `data-locale`, else the browser's language), else
//! the iframe request's `Accept-Language`, else English.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_http::services::ServeDir;

use crate::config::normalize_origin;
use crate::i18n::{Catalog, Locale};
use crate::{transport, AppState};

/// The loader script, compiled in: the one file every clinic page loads.
const LOADER_JS: &str = include_str!("../../public/widget.js");
/// Where the server writes the embed page's meta tags and strings.
const HEAD_MARKER: &str = "<!-- carechat:head -->";
/// Where the server writes the "Loading…" line (and its `<noscript>`), in
/// the page's language.
const BOOT_MARKER: &str = "<!-- carechat:boot -->";
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
        .route("/readyz", get(readyz))
        .route("/widget.js", get(loader))
        .route("/widget/pin.json", get(loader_pin_json))
        .route("/widget/{file}", get(pinned_loader))
        .route("/embed", get(embed))
        .route("/v1/identity", get(transport::identity))
        .route("/v1/ws", get(transport::websocket))
        .nest_service("/app", assets)
        .fallback(not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY));
    // The handshake reads its body itself, with its own smaller limit, so
    // that an oversized hello gets the protocol's 400 and error code.
    // The staff console, built beside the widget (`dist-console/` next to
    // `dist/`, see console/Trunk.toml).
    let console_dir = app.config.assets_dir.with_file_name("dist-console");
    let console = carechat_console::routes(app.console.clone(), console_dir)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::Extension(carechat_console::PublicOrigin(
            app.config.public_url.clone(),
        )));
    Router::new()
        .route("/v1/handshake", post(transport::handshake))
        .merge(console)
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

/// `GET /readyz`: 200 when the store and audit log take writes, else 503
/// naming the failing parts (no reasons: those are logged).
async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let report = app.readiness.check().await;
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report.to_json())).into_response()
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

/// The loader's pin: a content-addressed path and its Subresource
/// Integrity value, so a clinic page can load exactly this loader and no
/// other (`<script src=… integrity=… crossorigin="anonymous">`).
pub struct LoaderPin {
    /// `/widget/<first 16 hex digits of its SHA-384>.js`.
    pub path: String,
    /// `sha384-<base64>`.
    pub integrity: String,
}

/// The pin of the loader this server serves (computed once: the loader is
/// compiled in).
#[must_use]
pub fn loader_pin() -> &'static LoaderPin {
    use base64::Engine as _;
    use sha2::Digest as _;
    static PIN: std::sync::OnceLock<LoaderPin> = std::sync::OnceLock::new();
    PIN.get_or_init(|| {
        let digest = sha2::Sha384::digest(LOADER_JS.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        LoaderPin {
            path: format!("/widget/{hex}.js"),
            integrity: format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ),
        }
    })
}

/// The `<script>` tag a clinic's web team pastes, pinned to this loader.
#[must_use]
pub fn embed_snippet(config: &crate::config::Config) -> String {
    let pin = loader_pin();
    format!(
        "<script src=\"{}{}\" integrity=\"{}\" crossorigin=\"anonymous\" data-clinic=\"{}\" async></script>",
        config.public_url, pin.path, pin.integrity, config.clinic.id
    )
}

/// The loader with the headers a cross-origin, integrity-checked script
/// needs: CORS for everyone (it is public and carries no credentials), and
/// a cross-origin resource policy that lets any page load it.
fn loader_response(cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        LOADER_JS,
    )
        .into_response()
}

/// `GET /widget.js`: the current loader, under a short cache.
async fn loader() -> Response {
    loader_response("public, max-age=300")
}

/// `GET /widget/<digest>.js`: this exact loader, cached for good; another
/// digest (a loader this server no longer serves) is 404, so a pinned page
/// never runs a loader it did not pin.
async fn pinned_loader(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    if format!("/widget/{file}") == loader_pin().path {
        loader_response("public, max-age=31536000, immutable")
    } else {
        not_found().await
    }
}

/// `GET /widget/pin.json`: the pinned path and integrity value, for web
/// teams' build tooling.
async fn loader_pin_json(State(app): State<Arc<AppState>>) -> Response {
    let pin = loader_pin();
    let mut response = axum::Json(serde_json::json!({
        "src": format!("{}{}", app.config.public_url, pin.path),
        "integrity": pin.integrity,
        "snippet": embed_snippet(&app.config),
    }))
    .into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

#[derive(Deserialize)]
struct EmbedQuery {
    clinic: Option<String>,
    host: Option<String>,
    /// From the loader: the site's `data-locale`, else `navigator.language`.
    locale: Option<String>,
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

/// `GET /embed?clinic=…&host=…&locale=…`: the page inside the iframe.
async fn embed(
    State(app): State<Arc<AppState>>,
    Query(query): Query<EmbedQuery>,
    headers: HeaderMap,
) -> Response {
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
    let locale = embed_locale(
        query.locale.as_deref(),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let template_path = app.config.assets_dir.join("index.html");
    let Ok(template) = tokio::fs::read_to_string(&template_path).await else {
        tracing::error!(path = %template_path.display(), "widget not built: embed page template missing");
        return plain_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &Catalog::builtin().text(locale, "embed-unavailable", &[]),
        );
    };
    let page = embed_page(
        &template,
        &EmbedHead {
            identity_key: &app.identity.public().to_b64u(),
            host: &host,
            clinic_name: &app.config.clinic.name,
            locale,
        },
    );
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

/// The language the embed page starts in: the loader's `locale`, else the
/// browser's `Accept-Language`, else English. A tag the chat does not speak
/// (`fr-CA`) passes to the next source.
fn embed_locale(query: Option<&str>, accept_language: Option<&str>) -> Locale {
    query
        .and_then(Locale::from_tag)
        .or_else(|| accept_language.and_then(Locale::from_accept_language))
        .unwrap_or_default()
}

/// What the embed page says about this chat.
struct EmbedHead<'a> {
    identity_key: &'a str,
    host: &'a str,
    clinic_name: &'a str,
    locale: Locale,
}

/// The widget's built `index.html` with this chat's details written in:
/// the metas and the strings block at the head marker, the boot line at
/// its marker, `<html lang>` and `<title>` in `head.locale`.
fn embed_page(template: &str, head: &EmbedHead<'_>) -> String {
    let catalog = Catalog::builtin();
    let word = |key: &str| escape_attr(&catalog.text(head.locale, key, &[]));
    let meta = format!(
        "<meta name=\"carechat-identity-key\" content=\"{}\">\n\
         <meta name=\"carechat-host-origin\" content=\"{}\">\n\
         <meta name=\"carechat-clinic-name\" content=\"{}\">\n\
         <meta name=\"carechat-locale\" content=\"{}\">\n\
         <script type=\"application/json\" id=\"carechat-strings\">{}</script>",
        escape_attr(head.identity_key),
        escape_attr(head.host),
        escape_attr(head.clinic_name),
        head.locale.as_str(),
        widget_strings_json(),
    );
    let boot = format!(
        "<p class=\"cc-boot\" role=\"status\">{}</p>\n\
         <noscript><p class=\"cc-boot\">{}</p></noscript>",
        word("boot-loading"),
        word("boot-noscript"),
    );
    let title = format!(
        "<title>{}: {}</title>",
        word("page-title"),
        escape_attr(head.clinic_name)
    );
    let mut page = template
        .replacen(HEAD_MARKER, &meta, 1)
        .replacen(BOOT_MARKER, &boot, 1)
        .replacen(
            "<html lang=\"en\">",
            &format!("<html lang=\"{}\">", head.locale),
            1,
        );
    if let (Some(start), Some(end)) = (page.find("<title>"), page.find("</title>")) {
        if start < end {
            page.replace_range(start..end + "</title>".len(), &title);
        }
    }
    page
}

/// Every string of the widget, `{"en": {key: text, …}, "es": {…}}`, made
/// once. Safe inside `<script>`: every `<`, `>` and `&` is a JSON escape, so
/// no string can close the element or open a comment.
fn widget_strings_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let catalog = Catalog::builtin();
        let all: serde_json::Map<String, serde_json::Value> = Locale::ALL
            .iter()
            .map(|&locale| {
                let table = catalog
                    .widget_strings(locale)
                    .into_iter()
                    .map(|(key, text)| (key, serde_json::Value::String(text)))
                    .collect();
                (locale.as_str().to_owned(), serde_json::Value::Object(table))
            })
            .collect();
        escape_json_for_script(&serde_json::Value::Object(all).to_string())
    })
}

/// JSON text made safe to put inside `<script>`: `<`, `>` and `&` (which
/// JSON allows only inside strings) become `\u` escapes.
fn escape_json_for_script(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const TEMPLATE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<title>Clinic chat</title>\n\
        <!-- carechat:head -->\n</head>\n<body><div id=\"carechat-root\"><!-- carechat:boot --></div></body>\n</html>\n";

    fn head(locale: Locale, clinic_name: &str) -> EmbedHead<'_> {
        EmbedHead {
            identity_key: "BKEY",
            host: "https://clinic.example",
            clinic_name,
            locale,
        }
    }

    /// The JSON of the page's `carechat-strings` block.
    fn strings_block(page: &str) -> serde_json::Value {
        let open = "<script type=\"application/json\" id=\"carechat-strings\">";
        let start = page.find(open).unwrap() + open.len();
        let end = start + page[start..].find("</script>").unwrap();
        serde_json::from_str(&page[start..end]).unwrap()
    }

    #[test]
    fn the_loader_locale_wins_then_accept_language_then_english() {
        assert_eq!(embed_locale(Some("es-MX"), Some("en-US")), Locale::Es);
        assert_eq!(embed_locale(Some("en"), Some("es")), Locale::En);
        assert_eq!(
            embed_locale(None, Some("es-ES,es;q=0.9,en;q=0.8")),
            Locale::Es
        );
        assert_eq!(
            embed_locale(Some("fr-CA"), Some("fr, es;q=0.5")),
            Locale::Es
        );
        assert_eq!(embed_locale(Some(""), None), Locale::En);
        assert_eq!(embed_locale(None, Some("de")), Locale::En);
        assert_eq!(embed_locale(None, None), Locale::En);
    }

    #[test]
    fn the_page_starts_in_its_locale_and_carries_every_string_of_both() {
        let page = embed_page(TEMPLATE, &head(Locale::Es, "Clínica Maple Grove"));
        assert!(page.contains("<html lang=\"es\">"), "{page}");
        assert!(page.contains("<meta name=\"carechat-locale\" content=\"es\">"));
        assert!(page.contains("<title>Chat: Clínica Maple Grove</title>"));
        assert!(page.contains("<p class=\"cc-boot\" role=\"status\">Cargando el chat seguro…</p>"));
        assert!(
            page.contains("llame al 911"),
            "the noscript line is in Spanish"
        );
        assert!(!page.contains("carechat:head") && !page.contains("carechat:boot"));
        let strings = strings_block(&page);
        let catalog = Catalog::builtin();
        for locale in Locale::ALL {
            let table = strings[locale.as_str()].as_object().unwrap();
            assert_eq!(table.len(), catalog.widget_strings(locale).len());
        }
        assert_eq!(strings["en"]["consent-accept"], "Accept");
        assert_eq!(strings["es"]["consent-accept"], "Aceptar");
        assert_eq!(strings["es"]["language-switch"], "English");

        let english = embed_page(TEMPLATE, &head(Locale::En, "Maple Grove"));
        assert!(english.contains("<html lang=\"en\">"));
        assert!(english.contains("<meta name=\"carechat-locale\" content=\"en\">"));
        assert!(english.contains("Loading the secure chat…"));
    }

    #[test]
    fn nothing_in_the_strings_or_the_clinic_name_can_break_out_of_the_page() {
        let escaped =
            escape_json_for_script(r#"{"k":"</script><script>alert(1)</script> & <!--"}"#);
        assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["k"], "</script><script>alert(1)</script> & <!--");
        // The real block: one closing tag, its own.
        let json = widget_strings_json();
        assert!(!json.contains('<'), "{json}");
        let page = embed_page(TEMPLATE, &head(Locale::En, "<script>x</script>\"A&B\""));
        assert!(!page.contains("<script>x"));
        assert!(page.contains("content=\"&lt;script&gt;x&lt;/script&gt;&quot;A&amp;B&quot;\""));
        assert_eq!(page.matches("<script").count(), 1);
    }

    /// The handler itself, behind the real router and security headers.
    #[tokio::test]
    async fn the_embed_handler_picks_the_locale_and_keeps_the_strict_csp() {
        use tower::ServiceExt as _;

        let data_dir = tempfile::tempdir().unwrap();
        let assets_dir = tempfile::tempdir().unwrap();
        std::fs::write(assets_dir.path().join("index.html"), TEMPLATE).unwrap();
        let mut raw = crate::config::RawConfig::demo().unwrap();
        raw.apply_overrides(crate::config::Overrides {
            data_dir: Some(data_dir.path().to_owned()),
            assets_dir: Some(assets_dir.path().to_owned()),
            ..Default::default()
        });
        let config = raw.validate().unwrap();
        let identity = crate::open_identity(&config).unwrap();
        let app = Arc::new(AppState::open(config, identity).await.unwrap());

        let get = |query: &'static str, accept_language: Option<&'static str>| {
            let app = app.clone();
            async move {
                let mut request = Request::builder().uri(format!(
                    "/embed?clinic=demo&host=http%3A%2F%2F127.0.0.1%3A8081{query}"
                ));
                if let Some(value) = accept_language {
                    request = request.header(header::ACCEPT_LANGUAGE, value);
                }
                let response = router(app)
                    .oneshot(request.body(axum::body::Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap();
                (csp, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        for (query, accept_language, lang) in [
            ("&locale=es-MX", None, "es"),
            ("&locale=es", Some("en-US,en"), "es"),
            ("", Some("es-ES,es;q=0.9"), "es"),
            ("&locale=fr", Some("es"), "es"),
            ("&locale=en-GB", Some("es"), "en"),
            ("", None, "en"),
        ] {
            let (csp, page) = get(query, accept_language).await;
            assert!(
                page.contains(&format!("<html lang=\"{lang}\">")),
                "{query} {accept_language:?}"
            );
            assert!(page.contains(&format!(
                "<meta name=\"carechat-locale\" content=\"{lang}\">"
            )));
            assert!(page.contains("id=\"carechat-strings\""));
            assert!(
                csp.contains("script-src 'self' 'wasm-unsafe-eval';")
                    && !csp.contains("unsafe-inline"),
                "{csp}"
            );
        }
    }
}
