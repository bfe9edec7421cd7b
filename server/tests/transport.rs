//! The protocol's transport against a real server: the happy path, resume,
//! limits, and every kind of bad input, each answered with the protocol's
//! code while the server keeps serving everyone else.
// The fault tests print the figures they measure (run with --nocapture).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use common::{consented, say, Event, TestServer};
use protocol::{ClientMessage, Frame, ServerMessage};

#[tokio::test]
async fn a_patient_asks_about_saturday_hours_and_gets_the_answer() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    conn.send(
        &mut session,
        &say("m1", "what time do you open on saturday?"),
    )
    .await;
    let ServerMessage::Reply {
        in_reply_to,
        intent,
        text,
        escalated,
    } = conn.recv(&mut session).await
    else {
        panic!("expected a reply");
    };
    assert_eq!(in_reply_to, "m1");
    assert_eq!(intent, "faq.hours");
    assert!(text.to_lowercase().contains("saturday"), "{text}");
    assert!(!escalated);
}

#[tokio::test]
async fn say_before_consent_is_refused_with_consent_required() {
    let server = TestServer::start().await;
    let mut session = server.handshake().await;
    let mut conn = server.connect(&mut session).await;
    conn.sync(&mut session).await;
    assert!(matches!(
        conn.recv(&mut session).await,
        ServerMessage::Welcome { .. }
    ));
    conn.send(&mut session, &say("m1", "what are your hours"))
        .await;
    let ServerMessage::Error { code, .. } = conn.recv(&mut session).await else {
        panic!()
    };
    assert_eq!(code, "consent_required");
}

async fn handshake_error(server: &TestServer, body: impl Into<reqwest::Body>) -> (u16, String) {
    let response = server.post_handshake(body).await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn bad_handshakes_get_400_with_a_code_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let good = protocol::ClientHandshake::start(&mut rand_core::OsRng).hello();
    let off_curve =
        "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE";
    let compressed = "AhDc9OpsNc1hKa7CIxpF-0hv12nwrTsK458mNOr23Qq6";
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "malformed_hello"),
        ("[]".into(), "malformed_hello"),
        (serde_json::json!({"v": 2, "client_pub": good.client_pub, "client_nonce": good.client_nonce}).to_string(), "unsupported_version"),
        (serde_json::json!({"v": "1", "client_pub": good.client_pub, "client_nonce": good.client_nonce}).to_string(), "unsupported_version"),
        (serde_json::json!({"v": 1, "client_pub": good.client_pub}).to_string(), "malformed_hello"),
        (serde_json::json!({"v": 1, "client_pub": good.client_pub, "client_nonce": "c2hvcnQ"}).to_string(), "malformed_hello"),
        (serde_json::json!({"v": 1, "client_pub": off_curve, "client_nonce": good.client_nonce}).to_string(), "invalid_public_key"),
        (serde_json::json!({"v": 1, "client_pub": compressed, "client_nonce": good.client_nonce}).to_string(), "invalid_public_key"),
        (serde_json::json!({"v": 1, "client_pub": "!!", "client_nonce": good.client_nonce}).to_string(), "malformed_hello"),
        ("x".repeat(64 * 1024), "body_too_large"),
    ];
    for (body, expected) in cases {
        let (status, code) = handshake_error(&server, body.clone()).await;
        assert_eq!(
            (status, code.as_str()),
            (400, expected),
            "for body {:.80}",
            body
        );
    }
    // Nothing above created a session, and the server still serves.
    let (mut session, mut conn) = consented(&server).await;
    conn.send(&mut session, &say("m1", "do you take aetna?"))
        .await;
    assert!(
        matches!(conn.recv(&mut session).await, ServerMessage::Reply { intent, .. } if intent == "faq.insurance")
    );
}

#[tokio::test]
async fn unknown_or_malformed_sids_get_4401_and_nothing_else() {
    let server = TestServer::start().await;
    for sid in ["AAAAAAAAAAAAAAAAAAAAAA", "not-a-sid", ""] {
        let mut conn = server.connect_sid(sid).await;
        match conn.next_event().await {
            Event::Closed(code) => assert_eq!(code, Some(4401), "sid {sid:?}"),
            Event::Frame(f) => panic!("a frame was sent for an unknown sid: {f:?}"),
        }
    }
}

/// Opens a session, syncs and reads the welcome, then sends `bad` and
/// expects 4400; afterwards the session is gone (4401 on reconnect) and a
/// session opened before is unaffected.
async fn rejected(server: &TestServer, bad: impl FnOnce(&mut protocol::Session, Frame) -> String) {
    let (mut bystander, mut bystander_conn) = consented(server).await;

    let mut session = server.handshake().await;
    let mut conn = server.connect(&mut session).await;
    conn.sync(&mut session).await;
    assert!(matches!(
        conn.recv(&mut session).await,
        ServerMessage::Welcome { .. }
    ));
    let frame = session
        .seal_message(&ClientMessage::Consent {
            accepted: true,
            policy_version: "2026-01".into(),
        })
        .unwrap();
    conn.send_raw(bad(&mut session, frame)).await;
    assert_eq!(conn.expect_close().await, Some(4400));

    let mut again = server.connect(&mut session).await;
    assert_eq!(
        again.expect_close().await,
        Some(4401),
        "the session must end with a rejected frame"
    );

    bystander_conn
        .send(&mut bystander, &say("b1", "where are you located"))
        .await;
    assert!(matches!(
        bystander_conn.recv(&mut bystander).await,
        ServerMessage::Reply { .. }
    ));
}

#[tokio::test]
async fn a_tampered_frame_ends_the_session_with_4400() {
    let server = TestServer::start().await;
    rejected(&server, |_, frame| {
        let mut ct = protocol::encoding::b64u_decode(&frame.ct).unwrap();
        ct[3] ^= 1;
        Frame {
            seq: frame.seq,
            ct: protocol::encoding::b64u_encode(&ct),
        }
        .to_json()
    })
    .await;
}

#[tokio::test]
async fn a_replayed_frame_ends_the_session_with_4400() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    let frame = conn.send(&mut session, &say("m1", "hello")).await;
    assert!(matches!(
        conn.recv(&mut session).await,
        ServerMessage::Reply { .. }
    ));
    conn.send_raw(frame.to_json()).await;
    assert_eq!(conn.expect_close().await, Some(4400));
}

#[tokio::test]
async fn a_skipped_seq_within_a_connection_ends_the_session_with_4400() {
    let server = TestServer::start().await;
    rejected(&server, |session, _| {
        session.skip_send_to(session.next_send_seq() + 1);
        session.seal_message(&ClientMessage::End).unwrap().to_json()
    })
    .await;
}

#[tokio::test]
async fn malformed_frames_end_the_session_with_4400() {
    let server = TestServer::start().await;
    rejected(&server, |_, _| "{\"seq\": 2}".into()).await;
    rejected(&server, |_, _| "not json at all".into()).await;
    rejected(&server, |_, f| {
        format!("{{\"seq\":{},\"ct\":\"AAAA\"}}", f.seq)
    })
    .await;
    rejected(&server, |_, f| {
        format!("{{\"seq\":{},\"ct\":\"{}\",\"extra\":1}}", f.seq, f.ct)
    })
    .await;
}

#[tokio::test]
async fn an_oversized_frame_ends_the_session_with_4400() {
    let server = TestServer::start().await;
    rejected(&server, |_, f| {
        format!("{{\"seq\":{},\"ct\":\"{}\"}}", f.seq, "A".repeat(40 * 1024))
    })
    .await;
}

#[tokio::test]
async fn a_frame_sealed_with_the_wrong_key_ends_the_session_with_4400() {
    let server = TestServer::start().await;
    let mut other = server.handshake().await;
    rejected(&server, move |session, _| {
        other.skip_send_to(session.next_send_seq() - 1);
        other.seal_message(&ClientMessage::End).unwrap().to_json()
    })
    .await;
}

#[tokio::test]
async fn a_first_message_other_than_sync_ends_the_session_with_4400() {
    let server = TestServer::start().await;
    let mut session = server.handshake().await;
    let mut conn = server.connect(&mut session).await;
    conn.send(&mut session, &say("m1", "hi")).await;
    assert_eq!(conn.expect_close().await, Some(4400));
}

#[tokio::test]
async fn after_a_dropped_connection_nothing_is_lost_and_nothing_is_processed_twice() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    // The patient sends, and the connection drops before the reply is read.
    conn.send(&mut session, &say("m1", "is there parking"))
        .await;
    // Wait until the server has answered (its reply is in flight), then drop.
    let lost = match conn.next_event().await {
        Event::Frame(frame) => frame,
        Event::Closed(code) => panic!("closed {code:?}"),
    };
    drop(conn);

    let mut conn = server.connect(&mut session).await;
    // The server answers our sync, so what it has received includes it.
    let our_sync = session.next_send_seq();
    let server_has = conn.sync(&mut session).await;
    assert_eq!(
        server_has,
        Some(our_sync),
        "server received everything we sent"
    );
    // The reply we never opened arrives again under a new seq.
    let ServerMessage::Reply {
        in_reply_to,
        intent,
        text,
        ..
    } = conn.recv(&mut session).await
    else {
        panic!()
    };
    assert_eq!(
        (in_reply_to.as_str(), intent.as_str()),
        ("m1", "faq.parking")
    );
    assert!(
        lost.seq < session.last_received().unwrap(),
        "a re-sent message must use a new seq"
    );
    // The widget re-sends the say it never saw answered: same reply, not a second processing.
    conn.send(&mut session, &say("m1", "is there parking"))
        .await;
    let ServerMessage::Reply {
        in_reply_to,
        text: again,
        ..
    } = conn.recv(&mut session).await
    else {
        panic!()
    };
    assert_eq!(in_reply_to, "m1");
    assert_eq!(again, text);
}

#[tokio::test]
async fn a_reconnect_may_skip_ahead_but_never_go_back() {
    let server = TestServer::start().await;
    let (mut session, conn) = consented(&server).await;
    drop(conn);
    // Frames lost in the dropped connection are never re-sent under their old seq.
    session.skip_send_to(session.next_send_seq() + 5);
    let mut conn = server.connect(&mut session).await;
    conn.sync(&mut session).await;
    conn.send(&mut session, &say("m2", "hello")).await;
    assert!(matches!(
        conn.recv(&mut session).await,
        ServerMessage::Reply { .. }
    ));
    drop(conn);

    let mut conn = server.connect(&mut session).await;
    let old = protocol::Session::seal_message(
        &mut session,
        &ClientMessage::Sync {
            last_seq_received: None,
        },
    )
    .unwrap();
    let back = Frame {
        seq: old.seq - 3,
        ct: old.ct,
    };
    conn.send_raw(back.to_json()).await;
    assert_eq!(conn.expect_close().await, Some(4400));
}

#[tokio::test]
async fn end_forgets_the_session() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    conn.send(&mut session, &ClientMessage::End).await;
    assert_eq!(conn.expect_close().await, Some(1000));
    let mut conn = server.connect(&mut session).await;
    assert_eq!(conn.expect_close().await, Some(4401));
}

#[tokio::test]
async fn an_idle_session_expires_and_then_gets_4401() {
    let server =
        TestServer::start_with(|k| (k == "CARECHAT_IDLE_TIMEOUT_SECS").then(|| "1".into())).await;
    let (mut session, mut conn) = consented(&server).await;
    // The open connection is closed at the deadline...
    assert_eq!(conn.expect_close().await, Some(4401));
    // ...and the session is gone for good.
    let mut conn = server.connect(&mut session).await;
    assert_eq!(conn.expect_close().await, Some(4401));
}

#[tokio::test]
async fn handshakes_are_rate_limited_per_address() {
    let server =
        TestServer::start_with(|k| (k == "CARECHAT_HANDSHAKES_PER_MINUTE").then(|| "3".into()))
            .await;
    for _ in 0..3 {
        server.handshake().await;
    }
    let hello = protocol::ClientHandshake::start(&mut rand_core::OsRng).hello();
    let response = server
        .post_handshake(serde_json::to_vec(&hello).unwrap())
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_newer_connection_displaces_the_older_one() {
    let server = TestServer::start().await;
    let (mut session, mut first) = consented(&server).await;
    let mut second = server.connect(&mut session).await;
    // Displaced once the new connection's sync is accepted, not before.
    second.sync(&mut session).await;
    assert_eq!(first.expect_close().await, Some(1000));
    second
        .send(&mut session, &say("m9", "what is your phone number"))
        .await;
    assert!(
        matches!(second.recv(&mut session).await, ServerMessage::Reply { intent, .. } if intent == "faq.phone")
    );
}

#[tokio::test]
async fn a_forged_frame_numbered_past_the_frame_limit_on_a_new_connection_leaves_the_session() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    let mut stranger = server.connect(&mut session).await;
    let beyond = Frame {
        seq: protocol::session::MAX_FRAMES_PER_DIRECTION,
        ct: "AAAAAAAAAAAAAAAAAAAAAA".into(),
    };
    stranger.send_raw(beyond.to_json()).await;
    assert_eq!(stranger.expect_close().await, Some(4400));
    // Not authentic, so it proves nothing and ends nothing.
    conn.send(&mut session, &say("m1", "what are your hours"))
        .await;
    assert!(matches!(
        conn.recv(&mut session).await,
        ServerMessage::Reply { .. }
    ));
}

/// The patient's connection answers a question (so it is still theirs).
async fn still_served(conn: &mut common::Conn, session: &mut protocol::Session, id: &str) {
    conn.send(session, &say(id, "where are you located")).await;
    match conn.recv(session).await {
        ServerMessage::Reply { in_reply_to, .. } => assert_eq!(in_reply_to, id),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stranger_holding_only_the_sid_cannot_displace_or_end_the_session() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    let sid = session.sid().to_b64u();

    // A connection that says nothing does not displace the patient's.
    let mut silent = server.connect_sid(&sid).await;
    still_served(&mut conn, &mut session, "m1").await;

    // Junk as its first frame closes only the stranger's connection.
    for (n, junk) in [
        "junk".to_owned(),
        "{\"seq\":99,\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}".to_owned(),
        "x".repeat(30 * 1024),
    ]
    .into_iter()
    .enumerate()
    {
        let mut stranger = server.connect_sid(&sid).await;
        stranger.send_raw(junk).await;
        assert_eq!(stranger.expect_close().await, Some(4400));
        still_served(&mut conn, &mut session, &format!("j{n}")).await;
    }
    drop(silent.ws.close(None).await);

    // And the session is whole: a real reconnect resumes it.
    drop(conn);
    let mut again = server.connect(&mut session).await;
    again.sync(&mut session).await;
    still_served(&mut again, &mut session, "m9").await;
}

#[tokio::test]
async fn a_captured_frame_replayed_on_a_new_connection_is_refused_and_the_session_carries_on() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    let captured = conn
        .send(&mut session, &say("m1", "what are your hours"))
        .await;
    let _ = conn.recv(&mut session).await;
    let mut replay = server.connect(&mut session).await;
    replay.send_raw(captured.to_json()).await;
    assert_eq!(replay.expect_close().await, Some(4400));
    still_served(&mut conn, &mut session, "m2").await;
}

#[tokio::test]
async fn a_sync_inside_a_connection_is_accepted_and_answered_with_nothing() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    still_served(&mut conn, &mut session, "m1").await;
    let last = session.last_received();
    conn.send(
        &mut session,
        &ClientMessage::Sync {
            last_seq_received: last,
        },
    )
    .await;
    // The next thing the server sends answers the next question.
    still_served(&mut conn, &mut session, "m2").await;
    // What was acknowledged is not sent again after a reconnect.
    drop(conn);
    let mut again = server.connect(&mut session).await;
    again.sync(&mut session).await;
    still_served(&mut again, &mut session, "m3").await;
}

#[tokio::test]
async fn a_frame_over_the_sockets_own_limit_ends_the_session_with_4400() {
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    conn.send_raw("A".repeat(100 * 1024)).await;
    assert_eq!(conn.expect_close().await, Some(4400));
    let mut again = server.connect(&mut session).await;
    assert_eq!(again.expect_close().await, Some(4401));
}

async fn post_hello(
    server: &TestServer,
    content_type: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let hello = protocol::ClientHandshake::start(&mut rand_core::OsRng).hello();
    let mut request = reqwest::Client::new()
        .post(server.url("/v1/handshake"))
        .header("content-type", content_type)
        .body(serde_json::to_vec(&hello).unwrap());
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_cross_site_text_plain_handshake_flood_is_refused_and_patients_are_served() {
    let server =
        TestServer::start_with(|k| (k == "CARECHAT_MAX_SESSIONS").then(|| "5".into())).await;
    // What `fetch(url, {method: "POST", mode: "no-cors"})` sends from any site.
    for _ in 0..20 {
        let response = post_hello(
            &server,
            "text/plain;charset=UTF-8",
            Some("https://evil.example"),
        )
        .await;
        assert_eq!(response.status(), 415);
    }
    // Declared JSON but from a page elsewhere (after a preflight nobody answers).
    let response = post_hello(&server, "application/json", Some("https://evil.example")).await;
    assert_eq!(response.status(), 403);
    let response = post_hello(&server, "application/json", Some("null")).await;
    assert_eq!(response.status(), 403);
    // The chat's own iframe, a clinic site, and a client that is no web page.
    let own = server.url("");
    for origin in [Some(own.as_str()), Some("http://127.0.0.1:8081"), None] {
        let response = post_hello(&server, "application/json; charset=utf-8", origin).await;
        assert_eq!(response.status(), 200, "{origin:?}");
    }
    let (mut session, mut conn) = consented(&server).await;
    still_served(&mut conn, &mut session, "m1").await;
}

#[tokio::test]
async fn a_websocket_from_a_page_on_another_origin_is_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let server = TestServer::start().await;
    let session = server.handshake().await;
    let url = format!("ws://{}/v1/ws?sid={}", server.addr, session.sid().to_b64u());
    let mut request = url.clone().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(refused.is_err(), "upgraded for a foreign origin");
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", server.url("").parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_sessions() {
    let server = TestServer::start_with(|k| match k {
        "CARECHAT_SESSIONS_PER_ADDRESS" => Some("3".into()),
        "CARECHAT_HANDSHAKES_PER_MINUTE" => Some("100".into()),
        _ => None,
    })
    .await;
    for _ in 0..3 {
        server.handshake().await;
    }
    let response = post_hello(&server, "application/json", None).await;
    assert_eq!(response.status(), 429);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "too_many_sessions");
}

#[tokio::test]
async fn forged_forwarded_addresses_do_not_escape_the_handshake_limit() {
    let server = TestServer::start_with(|k| match k {
        "CARECHAT_TRUSTED_PROXIES" => Some("127.0.0.1".into()),
        "CARECHAT_HANDSHAKES_PER_MINUTE" => Some("3".into()),
        _ => None,
    })
    .await;
    let hello = || {
        serde_json::to_vec(&protocol::ClientHandshake::start(&mut rand_core::OsRng).hello())
            .unwrap()
    };
    let send = |forged: String| {
        let body = hello();
        let url = server.url("/v1/handshake");
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                // The client's own entry, then what the proxy appended.
                .header("x-forwarded-for", format!("{forged}, 203.0.113.9"))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(send(format!("198.51.100.{i}")).await.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    // Another real client behind the same proxy is its own bucket.
    let other = reqwest::Client::new()
        .post(server.url("/v1/handshake"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", "203.0.113.10")
        .body(hello())
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn a_burst_of_messages_in_one_session_is_slowed_and_a_crisis_still_gets_guidance() {
    let server =
        TestServer::start_with(|k| (k == "CARECHAT_MESSAGES_PER_MINUTE").then(|| "3".into())).await;
    let (mut session, mut conn) = consented(&server).await;
    let mut codes = Vec::new();
    for i in 0..6 {
        conn.send(&mut session, &say(&format!("b{i}"), "what are your hours"))
            .await;
        match conn.recv(&mut session).await {
            ServerMessage::Reply { .. } => codes.push("reply".to_owned()),
            ServerMessage::Error { code, .. } => codes.push(code),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        codes,
        [
            "reply",
            "reply",
            "reply",
            "rate_limited",
            "rate_limited",
            "rate_limited"
        ]
    );
    conn.send(&mut session, &say("c1", "I want to kill myself"))
        .await;
    match conn.recv(&mut session).await {
        ServerMessage::Reply { intent, .. } => assert_eq!(intent, "safety.crisis"),
        other => panic!("a crisis in a flood must get guidance, got {other:?}"),
    }
}

/// A TCP connection to the server from a chosen loopback address.
async fn tcp_from(server: &TestServer, from: std::net::IpAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(from, 0)).unwrap();
    socket.connect(server.addr).await.unwrap()
}

#[tokio::test]
async fn thousands_of_slow_header_connections_from_one_address_do_not_starve_another() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server =
        TestServer::start_with(|k| (k == "CARECHAT_CONNECTIONS_PER_ADDRESS").then(|| "100".into()))
            .await;
    let attacker: std::net::IpAddr = [127, 0, 0, 1].into();
    let patient: std::net::IpAddr = [127, 0, 0, 2].into();
    // 2,000 connections that trickle their headers a byte at a time, far
    // more than the 100 one address may hold.
    let started = std::time::Instant::now();
    let mut slow = Vec::new();
    for _ in 0..2000 {
        let stream = tcp_from(&server, attacker).await;
        slow.push(tokio::spawn(async move {
            let mut stream = stream;
            let request = b"GET /healthz HTTP/1.1\r\nHost: chat\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            let opened = std::time::Instant::now();
            for byte in request {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                let mut buf = [0u8; 64];
                // Closed by the server (EOF or reset) ends the loop.
                if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(
                    std::time::Duration::from_millis(300),
                    stream.read(&mut buf),
                )
                .await
                {
                    break;
                }
            }
            opened.elapsed()
        }));
    }
    // Meanwhile a patient on another address asks a question.
    let round_trip = std::time::Instant::now();
    let client = reqwest::Client::builder()
        .local_address(patient)
        .build()
        .unwrap();
    let hello_start = protocol::ClientHandshake::start(&mut rand_core::OsRng);
    let response = client
        .post(server.url("/v1/handshake"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&hello_start.hello()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let hello: protocol::ServerHello = response.json().await.unwrap();
    let mut session = hello_start.finish(&hello, &server.pinned).unwrap();
    let stream = tcp_from(&server, patient).await;
    let url = format!("ws://{}/v1/ws?sid={}", server.addr, session.sid().to_b64u());
    let (ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    let mut conn = common::Conn { ws };
    conn.sync(&mut session).await;
    let ServerMessage::Welcome { policy_version, .. } = conn.recv(&mut session).await else {
        panic!("expected welcome")
    };
    conn.send(
        &mut session,
        &ClientMessage::Consent {
            accepted: true,
            policy_version,
        },
    )
    .await;
    let _ = conn.recv(&mut session).await;
    still_served(&mut conn, &mut session, "m1").await;
    let took = round_trip.elapsed();
    println!("patient round trip under a slow-header flood: {took:?}");
    // Starved, it would not finish at all; the figure is printed above.
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");

    // Every slow connection was closed: those over the cap at once, the
    // rest at the header timeout.
    let mut held = Vec::new();
    for task in slow {
        held.push(task.await.unwrap());
    }
    let quick = held
        .iter()
        .filter(|d| **d < std::time::Duration::from_secs(2))
        .count();
    let longest = held.iter().max().copied().unwrap_or_default();
    println!(
        "slow connections: {} closed within 2 s, longest held {longest:?}, all done after {:?}",
        quick,
        started.elapsed()
    );
    assert!(quick >= 1900, "only {quick} of 2000 refused quickly");
    assert!(
        longest < carechat::listener::HEADER_TIMEOUT + std::time::Duration::from_secs(5),
        "a slow connection was held {longest:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = TestServer::start().await;
    let mut stream = tcp_from(&server, [127, 0, 0, 1].into()).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: chat\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Then nothing: the server closes the idle connection.
    let opened = std::time::Instant::now();
    let closed = tokio::time::timeout(
        carechat::listener::HEADER_TIMEOUT + std::time::Duration::from_secs(5),
        stream.read(&mut buf),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "an idle keep-alive connection was held past the header timeout"
    );
    println!(
        "idle keep-alive connection closed after {:?}",
        opened.elapsed()
    );
}

/// Another process holds the database's write lock: an answer waits for its
/// transcript line at most `DURABLE_WAIT` (1 s) and then goes out, a new
/// chat starts without waiting, and the transcript catches up afterwards.
#[tokio::test]
async fn a_database_write_lock_delays_answers_by_at_most_the_durable_wait_and_loses_nothing() {
    use sqlx::Connection as _;
    let server = TestServer::start().await;
    let (mut session, mut conn) = consented(&server).await;
    let db = server.data_dir.path().join("carechat.db");
    let mut locker = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    // Another process holds the write lock for five seconds.
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    let locked = std::time::Instant::now();
    still_served(&mut conn, &mut session, "m1").await;
    let answered = locked.elapsed();
    // A new chat starts (handshake, sync, welcome): none of it waits for a
    // write. (Its consent does: that is a write the chat needs first.)
    let fresh = std::time::Instant::now();
    let mut other = server.handshake().await;
    let mut other_conn = server.connect(&mut other).await;
    other_conn.sync(&mut other).await;
    assert!(matches!(
        other_conn.recv(&mut other).await,
        ServerMessage::Welcome { .. }
    ));
    let new_chat = fresh.elapsed();
    println!(
        "under a write lock: FAQ answer in {answered:?}, a new chat to its welcome in {new_chat:?}"
    );
    assert!(answered < std::time::Duration::from_secs(4), "{answered:?}");
    assert!(new_chat < std::time::Duration::from_secs(4), "{new_chat:?}");
    tokio::time::sleep(std::time::Duration::from_secs(5).saturating_sub(locked.elapsed())).await;
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    // Once the lock is gone the transcript catches up: nothing was lost.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transcript")
            .fetch_one(&mut locker)
            .await
            .unwrap_or(0);
        if rows >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "transcript has {rows} rows"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
