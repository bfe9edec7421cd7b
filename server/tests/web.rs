//! HTTP surface: security headers on every response, the embed page's CSP
//! and allow-list, the loader, and health.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start().await;
    for path in [
        "/healthz",
        "/v1/identity",
        "/widget.js",
        "/nope",
        "/embed?clinic=demo&host=http%3A%2F%2F127.0.0.1%3A8081",
    ] {
        let response = get(&server.url(path)).await;
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(
            header(&response, "referrer-policy"),
            "no-referrer",
            "{path}"
        );
        assert!(
            header(&response, "permissions-policy").contains("camera=()"),
            "{path}"
        );
        let csp = header(&response, "content-security-policy");
        assert!(!csp.is_empty(), "{path} has no CSP");
        assert!(
            !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
            "{path}: {csp}"
        );
        assert!(
            header(&response, "strict-transport-security").is_empty(),
            "no HSTS over plain HTTP"
        );
    }
}

#[tokio::test]
async fn the_embed_page_pins_the_key_and_only_allowed_sites_may_frame_it() {
    let server = TestServer::start().await;
    let response = get(&server.url("/embed?clinic=demo&host=http%3A%2F%2F127.0.0.1%3A8081")).await;
    assert_eq!(response.status(), 200);
    let csp = header(&response, "content-security-policy").to_owned();
    assert!(
        csp.contains("frame-ancestors http://127.0.0.1:8081"),
        "{csp}"
    );
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(header(&response, "cache-control"), "no-store");
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("content=\"{}\"", server.pinned.to_b64u())));
    assert!(page.contains("name=\"carechat-host-origin\" content=\"http://127.0.0.1:8081\""));

    let refused = get(&server.url("/embed?clinic=demo&host=https%3A%2F%2Fevil.example")).await;
    assert_eq!(refused.status(), 403);
    assert!(header(&refused, "content-security-policy").contains("frame-ancestors 'none'"));
    let no_host = get(&server.url("/embed?clinic=demo")).await;
    assert_eq!(no_host.status(), 400);
    let other_clinic =
        get(&server.url("/embed?clinic=other&host=http%3A%2F%2F127.0.0.1%3A8081")).await;
    assert_eq!(other_clinic.status(), 404);
}

#[tokio::test]
async fn the_loader_is_javascript_any_site_may_load() {
    let server = TestServer::start().await;
    let response = get(&server.url("/widget.js")).await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("text/javascript"));
    assert_eq!(
        header(&response, "cross-origin-resource-policy"),
        "cross-origin"
    );
}

#[tokio::test]
async fn the_loader_can_be_pinned_with_subresource_integrity() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let server = TestServer::start().await;
    // SRI on a cross-origin script needs CORS.
    let current = get(&server.url("/widget.js")).await;
    assert_eq!(header(&current, "access-control-allow-origin"), "*");
    let body = current.bytes().await.unwrap();

    let pin: serde_json::Value = get(&server.url("/widget/pin.json"))
        .await
        .json()
        .await
        .unwrap();
    let src = pin["src"].as_str().unwrap();
    let integrity = pin["integrity"].as_str().unwrap();
    let expected = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(&body))
    );
    assert_eq!(integrity, expected);
    assert!(pin["snippet"]
        .as_str()
        .unwrap()
        .contains(&format!("integrity=\"{integrity}\"")));
    assert!(pin["snippet"]
        .as_str()
        .unwrap()
        .contains("crossorigin=\"anonymous\""));

    // The versioned URL serves the same bytes for good.
    let pinned = get(src).await;
    assert_eq!(pinned.status(), 200);
    assert_eq!(header(&pinned, "access-control-allow-origin"), "*");
    assert!(header(&pinned, "cache-control").contains("immutable"));
    assert_eq!(pinned.bytes().await.unwrap(), body);
    // A loader this server does not serve is not found, never another one.
    let other = get(&server.url("/widget/0123456789abcdef.js")).await;
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn identity_matches_the_pinned_key_and_health_is_ok() {
    let server = TestServer::start().await;
    let identity: serde_json::Value = get(&server.url("/v1/identity")).await.json().await.unwrap();
    assert_eq!(identity["public_key"], server.pinned.to_b64u());
    assert_eq!(identity["key_id"], server.pinned.key_id());
    let health: serde_json::Value = get(&server.url("/healthz")).await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn readyz_fails_while_the_store_cannot_be_written() {
    use sqlx::Connection as _;
    let server = TestServer::start().await;
    let ready = get(&server.url("/readyz")).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), r#"{"status":"ready"}"#);

    // Another writer holds the database: nothing the chat writes (consent,
    // verification, audit) could go in.
    let db = server.data_dir.path().join("carechat.db");
    let mut holder = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    // Past the one-second reuse of the last result.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let not_ready = get(&server.url("/readyz")).await;
    assert_eq!(not_ready.status(), 503);
    assert_eq!(header(&not_ready, "cache-control"), "no-store");
    let body: serde_json::Value = not_ready.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "status": "not_ready", "failing": ["store", "audit"] }),
        "the parts, and no internals"
    );
    // Liveness is not readiness: the process is up.
    assert_eq!(get(&server.url("/healthz")).await.status(), 200);

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(get(&server.url("/readyz")).await.status(), 200);
}

#[tokio::test]
async fn a_client_that_trickles_its_body_is_cut_off_with_408() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = TestServer::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /v1/handshake HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"v\":1,")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "the server kept a stalled request open for 30 s"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(10));
}
