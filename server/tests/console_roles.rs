//! The console's role matrix, from outside the server's code: every role,
//! and no session at all, against every call of the console backend, each
//! allowed or refused as the roles say. Front desk and nurse work the
//! queue; compliance and admin never receive a conversation, a queue entry
//! or the realtime channel (no message text reaches them); without a
//! session, or with a foreign origin or a wrong CSRF token, nothing
//! changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use carechat::config::{Overrides, RawConfig};
use carechat::handoff::Reason;
use carechat::staff::Role as StaffRole;
use carechat::AppState;
use carechat_console::api::{ConsoleBackend, Refusal, RequestFacts};
use carechat_language::lang::Locale;
use chrono::Utc;
use protocol::SessionId;

use common::console::PASSWORD;

struct World {
    app: AppState,
    origin: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::demo().unwrap();
    raw.apply_overrides(Overrides {
        data_dir: Some(dir.path().to_owned()),
        ..Overrides::default()
    });
    let config = raw.validate().unwrap();
    let identity = carechat::open_identity(&config).unwrap();
    let app = AppState::open(config, identity).await.unwrap();
    let origin = app.config.public_url.clone();
    World {
        app,
        origin,
        _dir: dir,
    }
}

impl World {
    /// Signs a new account of `role` in; the facts its browser would send.
    async fn signed_in(&self, role: StaffRole) -> RequestFacts {
        let username = format!("user.{}", role.as_str());
        common::console::signed_in_as(
            &self.app.store,
            &self.app.audit,
            self.app.console.as_ref(),
            &self.origin,
            role,
            &username,
        )
        .await
    }

    fn queue_one(&self, n: u8) -> String {
        self.app.handoffs.enqueue(
            &SessionId([n; 16]),
            &format!("session-{n}"),
            Reason::AskedForPerson,
            Locale::En,
            None,
            Utc::now(),
        );
        self.app
            .handoffs
            .queue()
            .into_iter()
            .find(|e| e.session_ref == format!("session-{n}"))
            .unwrap()
            .id
    }
}

/// What one role gets from every call, in a fixed order.
async fn outcomes(
    w: &World,
    facts: &RequestFacts,
    id: &str,
) -> Vec<(&'static str, Result<(), Refusal>)> {
    let b = &w.app.console;
    let ok = |r: Result<(), Refusal>| r;
    vec![
        ("me", b.me(facts).await.map(|_| ())),
        ("queue", b.queue(facts).await.map(|_| ())),
        ("conversation", b.conversation(facts, id).await.map(|_| ())),
        ("events", b.events(facts).await.map(|_| ())),
        ("pick_up", ok(b.pick_up(facts, id).await)),
        ("typing", ok(b.typing(facts, id).await)),
        ("send", ok(b.send(facts, id, "Hello from the clinic").await)),
        ("hand_back", ok(b.hand_back(facts, id).await)),
    ]
}

#[tokio::test]
async fn each_role_can_do_what_it_may_and_nothing_else() {
    let w = world().await;
    for role in [StaffRole::FrontDesk, StaffRole::Nurse] {
        let facts = w.signed_in(role).await;
        let id = w.queue_one(role as u8 + 1);
        for (call, result) in outcomes(&w, &facts, &id).await {
            assert_eq!(result, Ok(()), "{role}: {call}");
        }
        assert!(w.app.handoffs.get(&id).is_none(), "handed back");
    }
    for role in [StaffRole::Compliance, StaffRole::Admin] {
        let facts = w.signed_in(role).await;
        let id = w.queue_one(role as u8 + 10);
        for (call, result) in outcomes(&w, &facts, &id).await {
            let expected = if call == "me" {
                Ok(())
            } else {
                Err(Refusal::NotAllowed)
            };
            assert_eq!(result, expected, "{role}: {call}");
        }
        assert!(w.app.handoffs.get(&id).unwrap().1.owner.is_none());
    }
}

#[tokio::test]
async fn without_a_session_a_good_origin_or_the_csrf_token_nothing_happens() {
    let w = world().await;
    let id = w.queue_one(1);
    let nobody = RequestFacts {
        origin: Some(w.origin.clone()),
        ..RequestFacts::default()
    };
    for (call, result) in outcomes(&w, &nobody, &id).await {
        assert_eq!(result, Err(Refusal::SignedOut), "signed out: {call}");
    }
    let nurse = w.signed_in(StaffRole::Nurse).await;
    let foreign = RequestFacts {
        origin: Some("https://evil.example".into()),
        ..nurse.clone()
    };
    let no_csrf = RequestFacts {
        csrf: Some("not-the-token".into()),
        ..nurse.clone()
    };
    for facts in [&foreign, &no_csrf] {
        assert_eq!(
            w.app.console.pick_up(facts, &id).await,
            Err(Refusal::BadRequest)
        );
        assert_eq!(
            w.app.console.hand_back(facts, &id).await,
            Err(Refusal::BadRequest)
        );
    }
    assert_eq!(
        w.app.console.events(&foreign).await.map(|_| ()),
        Err(Refusal::BadRequest)
    );
    assert!(w.app.handoffs.get(&id).unwrap().1.owner.is_none());
    // Signing in from another origin is refused too.
    assert_eq!(
        w.app
            .console
            .sign_in(&foreign, "user.nurse", PASSWORD, "000000")
            .await
            .map(|_| ()),
        Err(Refusal::BadRequest)
    );
    // Someone else's conversation cannot be written to or handed back.
    w.app.console.pick_up(&nurse, &id).await.unwrap();
    let desk = w.signed_in(StaffRole::FrontDesk).await;
    assert_eq!(
        w.app.console.send(&desk, &id, "hi").await,
        Err(Refusal::Taken)
    );
    assert_eq!(
        w.app.console.hand_back(&desk, &id).await,
        Err(Refusal::Taken)
    );
    assert_eq!(w.app.console.pick_up(&desk, &id).await, Err(Refusal::Taken));
}
