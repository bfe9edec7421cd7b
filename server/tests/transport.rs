//! The protocol's transport against a real server: the happy path, resume,
//! limits, and every kind of bad input, each answered with the protocol's
//! code while the server keeps serving everyone else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    let sent_last = session.next_send_seq() - 1;
    let server_has = conn.sync(&mut session).await;
    assert_eq!(
        server_has,
        Some(sent_last),
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
    assert_eq!(first.expect_close().await, Some(1000));
    second.sync(&mut session).await;
    second
        .send(&mut session, &say("m9", "what is your phone number"))
        .await;
    assert!(
        matches!(second.recv(&mut session).await, ServerMessage::Reply { intent, .. } if intent == "faq.phone")
    );
}

#[tokio::test]
async fn a_frame_numbered_past_the_frame_limit_ends_the_session_with_4401() {
    let server = TestServer::start().await;
    let mut session = server.handshake().await;
    let mut conn = server.connect(&mut session).await;
    let sealed = session
        .seal_message(&ClientMessage::Sync {
            last_seq_received: None,
        })
        .unwrap();
    let beyond = Frame {
        seq: protocol::session::MAX_FRAMES_PER_DIRECTION,
        ct: sealed.ct,
    };
    conn.send_raw(beyond.to_json()).await;
    assert_eq!(conn.expect_close().await, Some(4401));
    let mut again = server.connect(&mut session).await;
    assert_eq!(again.expect_close().await, Some(4401));
}
