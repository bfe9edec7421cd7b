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
async fn identity_matches_the_pinned_key_and_health_is_ok() {
    let server = TestServer::start().await;
    let identity: serde_json::Value = get(&server.url("/v1/identity")).await.json().await.unwrap();
    assert_eq!(identity["public_key"], server.pinned.to_b64u());
    assert_eq!(identity["key_id"], server.pinned.key_id());
    let health: serde_json::Value = get(&server.url("/healthz")).await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
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
