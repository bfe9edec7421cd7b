//! The admin's console calls, from outside the server's code: the role
//! matrix for every call (front desk, nurse, compliance, admin, signed
//! out), the foreign origin and missing CSRF token refused on every state
//! change, the rules that keep an administrator (no self-demotion, no
//! self-disable, never without an active admin), the validation messages,
//! and that each setting takes effect through the real conversation
//! engine, survives a restart, and is audited without its words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use carechat::clock::{Clock, ManualClock};
use carechat::config::{Overrides, RawConfig};
use carechat::conversation::{ChatState, Outcome, Turn};
use carechat::records::Requester;
use carechat::staff::{Role as StaffRole, SessionPolicy, Staff};
use carechat::AppState;
use carechat_console::api::admin::{
    AdminBackend, AdminError, CannedResponse, DayHours, FaqEntry, NewStaff, StaffedHours, DAYS,
};
use carechat_console::api::{ConsoleBackend, Refusal, RequestFacts, Role};
use chrono::{DateTime, Duration, Utc};
use protocol::{ClientMessage, ServerMessage, SessionId};
use sqlx::Row as _;

const PASSWORD: &str = "correct horse battery staple";
/// Wednesday 2026-12-02, 10:00 in Chicago (the demo clinic's zone).
const WEDNESDAY_10AM: &str = "2026-12-02T16:00:00Z";

struct World {
    app: AppState,
    clock: ManualClock,
    origin: String,
    dir: tempfile::TempDir,
    accounts: AtomicU32,
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn open(dir: &std::path::Path, clock: &ManualClock) -> AppState {
    let mut raw = RawConfig::demo().unwrap();
    raw.apply_overrides(Overrides {
        data_dir: Some(dir.to_owned()),
        ..Overrides::default()
    });
    let config = raw.validate().unwrap();
    let identity = carechat::open_identity(&config).unwrap();
    AppState::open_with_clock(config, identity, Arc::new(clock.clone()))
        .await
        .unwrap()
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(WEDNESDAY_10AM));
    let app = open(dir.path(), &clock).await;
    let origin = app.config.public_url.clone();
    World {
        app,
        clock,
        origin,
        dir,
        accounts: AtomicU32::new(0),
    }
}

fn token_of(cookie: &str) -> String {
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

impl World {
    fn staff(&self) -> Staff {
        Staff::new(
            self.app.store.clone(),
            Arc::new(self.clock.clone()),
            self.app.audit.clone(),
            SessionPolicy::default(),
        )
    }

    /// A new account of `role`: (id, username, TOTP secret).
    async fn account(&self, role: StaffRole) -> (i64, String, String) {
        let n = self.accounts.fetch_add(1, Ordering::SeqCst);
        let username = format!("user{n}.{}", role.as_str());
        let account = self
            .staff()
            .add(&username, &format!("Staff {n}"), role, PASSWORD)
            .await
            .unwrap();
        (account.member.id, username, account.totp_secret_base32)
    }

    /// Signs `username` in with the code of `secret` (the clock moves on a
    /// TOTP step first, so no code is a replay).
    async fn sign_in(&self, username: &str, secret: &str) -> Result<RequestFacts, Refusal> {
        self.clock.advance(Duration::seconds(31));
        let code = Staff::totp_now(secret, self.clock.now()).unwrap();
        let mut facts = RequestFacts {
            origin: Some(self.origin.clone()),
            ..RequestFacts::default()
        };
        let (me, cookie) = self
            .app
            .console
            .sign_in(&facts, username, PASSWORD, &code)
            .await?;
        facts.session = Some(token_of(&cookie));
        facts.csrf = Some(me.csrf);
        Ok(facts)
    }

    /// Signs a new account of `role` in.
    async fn signed_in(&self, role: StaffRole) -> RequestFacts {
        let (_, username, secret) = self.account(role).await;
        self.sign_in(&username, &secret).await.unwrap()
    }

    async fn audit_rows(&self) -> Vec<(String, String, String)> {
        sqlx::query(
            "SELECT actor, action, COALESCE(entity_type, '') || '/' || COALESCE(entity_id, '') FROM audit_events ORDER BY seq",
        )
        .fetch_all(self.app.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    }
}

fn hours(days: &[(&str, &str)]) -> StaffedHours {
    StaffedHours {
        days: DAYS
            .iter()
            .zip(days)
            .map(|(day, (opens, closes))| DayHours {
                day: (*day).to_owned(),
                opens: (*opens).to_owned(),
                closes: (*closes).to_owned(),
            })
            .collect(),
        time_zone: String::new(),
    }
}

fn week_with_saturday() -> StaffedHours {
    hours(&[
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("09:00", "12:00"),
        ("", ""),
    ])
}

fn canned(id: i64, title: &str) -> CannedResponse {
    CannedResponse {
        id,
        title: title.into(),
        text_en: "Thanks for waiting, I am looking into this now.".into(),
        text_es: "Gracias por esperar, lo estoy revisando ahora.".into(),
    }
}

fn unit<T>(r: Result<T, AdminError>) -> Result<(), AdminError> {
    r.map(|_| ())
}

/// What one session gets from every admin call, in a fixed order (`admin`
/// reads the FAQ entry to edit). The targets (`target` account, canned
/// response `doomed`) exist; `n` makes the new account's name unique.
async fn outcomes(
    w: &World,
    facts: &RequestFacts,
    admin: &RequestFacts,
    target: i64,
    doomed: i64,
    n: u32,
) -> Vec<(&'static str, Result<(), AdminError>)> {
    let b = &w.app.console;
    let faq = b.faq_entries(admin).await.unwrap().remove(0);
    let edited = FaqEntry {
        answer_en: format!("{} (edit {n})", faq.answer_en),
        ..faq
    };
    let new = NewStaff {
        username: format!("new.person{n}"),
        name: "New Person".into(),
        role: Role::FrontDesk,
        password: PASSWORD.into(),
    };
    vec![
        ("staff_accounts", unit(b.staff_accounts(facts).await)),
        ("add_staff", unit(b.add_staff(facts, &new).await)),
        (
            "set_staff_role",
            b.set_staff_role(facts, target, Role::Nurse).await,
        ),
        (
            "set_staff_disabled",
            b.set_staff_disabled(facts, target, true).await,
        ),
        (
            "set_staff_enabled",
            b.set_staff_disabled(facts, target, false).await,
        ),
        (
            "reset_second_factor",
            unit(b.reset_second_factor(facts, target).await),
        ),
        ("unlock_staff", b.unlock_staff(facts, target).await),
        ("staffed_hours", unit(b.staffed_hours(facts).await)),
        (
            "set_staffed_hours",
            b.set_staffed_hours(facts, &week_with_saturday()).await,
        ),
        ("faq_entries", unit(b.faq_entries(facts).await)),
        ("set_faq_entry", b.set_faq_entry(facts, &edited).await),
        ("canned_responses", unit(b.canned_responses(facts).await)),
        (
            "save_canned_response",
            unit(
                b.save_canned_response(facts, &canned(0, &format!("New {n}")))
                    .await,
            ),
        ),
        (
            "edit_canned_response",
            unit(
                b.save_canned_response(facts, &canned(doomed, &format!("Edited {n}")))
                    .await,
            ),
        ),
        (
            "delete_canned_response",
            b.delete_canned_response(facts, doomed).await,
        ),
    ]
}

const STATE_CHANGES: &[&str] = &[
    "add_staff",
    "set_staff_role",
    "set_staff_disabled",
    "set_staff_enabled",
    "reset_second_factor",
    "unlock_staff",
    "set_staffed_hours",
    "set_faq_entry",
    "save_canned_response",
    "edit_canned_response",
    "delete_canned_response",
];

async fn a_canned_response(w: &World, admin: &RequestFacts, title: &str) -> i64 {
    w.app
        .console
        .save_canned_response(admin, &canned(0, title))
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "current_thread")]
async fn each_role_gets_what_it_may_and_nothing_else() {
    let w = world().await;
    let admin = w.signed_in(StaffRole::Admin).await;
    let (target, _, _) = w.account(StaffRole::FrontDesk).await;
    let b = &w.app.console;
    let mut n = 0;
    for role in [
        StaffRole::FrontDesk,
        StaffRole::Nurse,
        StaffRole::Compliance,
    ] {
        let facts = w.signed_in(role).await;
        let doomed = a_canned_response(&w, &admin, "Keep me").await;
        let hours_before = b.staffed_hours(&admin).await.unwrap();
        let faq_before = b.faq_entries(&admin).await.unwrap();
        let accounts_before = b.staff_accounts(&admin).await.unwrap();
        let canned_before = b.canned_responses(&admin).await.unwrap();
        n += 1;
        for (call, result) in outcomes(&w, &facts, &admin, target, doomed, n).await {
            let expected = if call == "canned_responses" && role.can_chat() {
                Ok(())
            } else {
                Err(AdminError::Refused(Refusal::NotAllowed))
            };
            assert_eq!(result, expected, "{role}: {call}");
        }
        // Nothing changed.
        assert_eq!(
            b.staffed_hours(&admin).await.unwrap(),
            hours_before,
            "{role}"
        );
        assert_eq!(b.faq_entries(&admin).await.unwrap(), faq_before, "{role}");
        assert_eq!(
            b.staff_accounts(&admin).await.unwrap(),
            accounts_before,
            "{role}"
        );
        assert_eq!(
            b.canned_responses(&admin).await.unwrap(),
            canned_before,
            "{role}"
        );
    }
    // The chat roles read what the admin wrote.
    let desk = w.signed_in(StaffRole::FrontDesk).await;
    assert_eq!(
        b.canned_responses(&desk).await.unwrap(),
        b.canned_responses(&admin).await.unwrap()
    );
    // The admin may do everything here.
    let doomed = a_canned_response(&w, &admin, "Delete me").await;
    for (call, result) in outcomes(&w, &admin, &admin, target, doomed, 99).await {
        assert_eq!(result, Ok(()), "admin: {call}");
    }
    let accounts = b.staff_accounts(&admin).await.unwrap();
    let t = accounts.iter().find(|a| a.id == target).unwrap();
    assert_eq!((t.role, t.disabled, t.locked), (Role::Nurse, false, false));
    assert!(accounts.iter().any(|a| a.username == "new.person99"));
    assert!(accounts.iter().filter(|a| a.own).count() == 1);
    let canned = b.canned_responses(&admin).await.unwrap();
    assert!(canned.iter().any(|c| c.title == "New 99"));
    assert!(!canned.iter().any(|c| c.id == doomed));
    assert_eq!(
        b.staffed_hours(&admin).await.unwrap().days[5].opens,
        "09:00"
    );
    assert_eq!(
        b.staffed_hours(&admin).await.unwrap().time_zone,
        "America/Chicago"
    );
    // Admin still gets no conversation or queue.
    assert_eq!(b.queue(&admin).await.map(|_| ()), Err(Refusal::NotAllowed));
}

#[tokio::test(flavor = "current_thread")]
async fn without_a_session_a_good_origin_or_the_csrf_token_nothing_changes() {
    let w = world().await;
    let admin = w.signed_in(StaffRole::Admin).await;
    let (target, _, _) = w.account(StaffRole::FrontDesk).await;
    let doomed = a_canned_response(&w, &admin, "Keep me").await;
    let b = &w.app.console;
    let nobody = RequestFacts {
        origin: Some(w.origin.clone()),
        ..RequestFacts::default()
    };
    for (call, result) in outcomes(&w, &nobody, &admin, target, doomed, 1).await {
        assert_eq!(
            result,
            Err(AdminError::Refused(Refusal::SignedOut)),
            "signed out: {call}"
        );
    }
    let foreign = RequestFacts {
        origin: Some("https://evil.example".into()),
        ..admin.clone()
    };
    let no_csrf = RequestFacts {
        csrf: None,
        ..admin.clone()
    };
    let wrong_csrf = RequestFacts {
        csrf: Some("not-the-token".into()),
        ..admin.clone()
    };
    let hours_before = b.staffed_hours(&admin).await.unwrap();
    let faq_before = b.faq_entries(&admin).await.unwrap();
    let accounts_before = b.staff_accounts(&admin).await.unwrap();
    let canned_before = b.canned_responses(&admin).await.unwrap();
    for (name, facts) in [
        ("foreign origin", &foreign),
        ("no csrf", &no_csrf),
        ("wrong csrf", &wrong_csrf),
    ] {
        for (call, result) in outcomes(&w, facts, &admin, target, doomed, 2).await {
            if STATE_CHANGES.contains(&call) {
                assert_eq!(
                    result,
                    Err(AdminError::Refused(Refusal::BadRequest)),
                    "{name}: {call}"
                );
            }
        }
    }
    assert_eq!(b.staffed_hours(&admin).await.unwrap(), hours_before);
    assert_eq!(b.faq_entries(&admin).await.unwrap(), faq_before);
    assert_eq!(b.staff_accounts(&admin).await.unwrap(), accounts_before);
    assert_eq!(b.canned_responses(&admin).await.unwrap(), canned_before);
}

#[tokio::test(flavor = "current_thread")]
async fn admins_keep_the_clinic_administered_and_disabling_ends_sessions() {
    let w = world().await;
    let b = &w.app.console;
    let (a_id, a_name, a_secret) = w.account(StaffRole::Admin).await;
    let admin = w.sign_in(&a_name, &a_secret).await.unwrap();
    let invalid = |r: Result<(), AdminError>| matches!(r, Err(AdminError::Invalid(m)) if m.contains("own account"));
    // Never their own account.
    assert!(invalid(b.set_staff_role(&admin, a_id, Role::Nurse).await));
    assert!(invalid(b.set_staff_disabled(&admin, a_id, true).await));
    assert_eq!(b.set_staff_role(&admin, a_id, Role::Admin).await, Ok(()));
    // Another admin, disabled: the first is now the last active one.
    let (b_id, b_name, b_secret) = w.account(StaffRole::Admin).await;
    let other = w.sign_in(&b_name, &b_secret).await.unwrap();
    assert!(b.me(&other).await.is_ok());
    b.set_staff_disabled(&admin, b_id, true).await.unwrap();
    assert_eq!(
        b.me(&other).await.map(|_| ()),
        Err(Refusal::SignedOut),
        "session ended"
    );
    assert_eq!(
        w.sign_in(&b_name, &b_secret).await.map(|_| ()),
        Err(Refusal::BadCredentials),
        "a disabled account cannot sign in"
    );
    let err = w
        .staff()
        .set_role(a_id, StaffRole::Nurse)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("last active administrator"),
        "{err}"
    );
    let accounts = b.staff_accounts(&admin).await.unwrap();
    assert!(accounts.iter().find(|a| a.id == b_id).unwrap().disabled);
    // Enabled again, it signs in; demoting it is fine while one remains.
    b.set_staff_disabled(&admin, b_id, false).await.unwrap();
    let other = w.sign_in(&b_name, &b_secret).await.unwrap();
    b.set_staff_role(&admin, b_id, Role::Compliance)
        .await
        .unwrap();
    assert_eq!(
        b.staff_accounts(&other).await.map(|_| ()),
        Err(Refusal::NotAllowed.into())
    );
    // A new second factor: the old secret stops working, the new one works,
    // and the old sessions end.
    let factor = b.reset_second_factor(&admin, b_id).await.unwrap();
    assert_eq!(factor.username, b_name);
    assert!(factor.otpauth_uri.starts_with("otpauth://totp/"));
    assert_eq!(b.me(&other).await.map(|_| ()), Err(Refusal::SignedOut));
    assert_eq!(
        w.sign_in(&b_name, &b_secret).await.map(|_| ()),
        Err(Refusal::BadCredentials)
    );
    w.sign_in(&b_name, &factor.secret).await.unwrap();
    // Locked by failures, unlocked by the admin.
    for _ in 0..5 {
        let facts = RequestFacts {
            origin: Some(w.origin.clone()),
            ..RequestFacts::default()
        };
        let _ = b
            .sign_in(&facts, &b_name, "wrong password here", "000000")
            .await;
    }
    assert_eq!(
        w.sign_in(&b_name, &factor.secret).await.map(|_| ()),
        Err(Refusal::Locked)
    );
    assert!(
        b.staff_accounts(&admin)
            .await
            .unwrap()
            .iter()
            .find(|a| a.id == b_id)
            .unwrap()
            .locked
    );
    b.unlock_staff(&admin, b_id).await.unwrap();
    assert!(
        !b.staff_accounts(&admin)
            .await
            .unwrap()
            .iter()
            .find(|a| a.id == b_id)
            .unwrap()
            .locked
    );
    w.sign_in(&b_name, &factor.secret).await.unwrap();
    // An account added by the admin signs in with the secret shown once.
    let shown = b
        .add_staff(
            &admin,
            &NewStaff {
                username: "Desk.Person".into(),
                name: "Desk Person".into(),
                role: Role::FrontDesk,
                password: PASSWORD.into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(shown.username, "desk.person");
    let desk = w.sign_in("desk.person", &shown.secret).await.unwrap();
    assert_eq!(b.me(&desk).await.unwrap().role, Role::FrontDesk);
    assert_eq!(
        b.set_staff_disabled(&admin, 9999, true).await,
        Err(AdminError::Refused(Refusal::Gone))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn every_input_is_validated_with_a_message_that_says_what_to_fix() {
    let w = world().await;
    let admin = w.signed_in(StaffRole::Admin).await;
    let b = &w.app.console;
    let message = |r: Result<(), AdminError>| match r {
        Err(AdminError::Invalid(m)) => m,
        other => panic!("not refused as invalid: {other:?}"),
    };
    let before = b.staffed_hours(&admin).await.unwrap();
    let mut week = week_with_saturday();
    week.days[0].closes = "07:00".into();
    assert!(message(b.set_staffed_hours(&admin, &week).await)
        .starts_with("Monday: the closing time must be after"));
    week.days[0].closes = "5pm".into();
    assert!(message(b.set_staffed_hours(&admin, &week).await).contains("HH:MM"));
    week.days[0].closes = String::new();
    assert!(message(b.set_staffed_hours(&admin, &week).await)
        .contains("both the opening and the closing"));
    let closed = hours(&[("", ""); 7]);
    assert!(
        message(b.set_staffed_hours(&admin, &closed).await).contains("at least one staffed day")
    );
    let mut six = week_with_saturday();
    six.days.pop();
    assert!(message(b.set_staffed_hours(&admin, &six).await).contains("seven days"));
    assert_eq!(
        b.staffed_hours(&admin).await.unwrap(),
        before,
        "nothing changed"
    );

    let entry = b.faq_entries(&admin).await.unwrap().remove(0);
    let blank = FaqEntry {
        answer_en: "  ".into(),
        ..entry.clone()
    };
    assert!(message(b.set_faq_entry(&admin, &blank).await).contains("English answer"));
    let no_examples = FaqEntry {
        examples_en: vec![" ".into()],
        ..entry.clone()
    };
    assert!(message(b.set_faq_entry(&admin, &no_examples).await).contains("example question"));
    let too_long = FaqEntry {
        answer_es: "x".repeat(5000),
        ..entry.clone()
    };
    assert!(
        message(b.set_faq_entry(&admin, &too_long).await).contains("Spanish answer is too long")
    );
    let others = b.faq_entries(&admin).await.unwrap();
    let shared = FaqEntry {
        examples_en: vec![others[1].examples_en[0].clone()],
        ..entry.clone()
    };
    assert!(message(b.set_faq_entry(&admin, &shared).await).contains("is also an example of"));
    let unknown = FaqEntry {
        intent: "faq.nothing_like_it".into(),
        ..entry
    };
    assert_eq!(
        b.set_faq_entry(&admin, &unknown).await,
        Err(AdminError::Refused(Refusal::Gone))
    );
    assert_eq!(
        b.faq_entries(&admin).await.unwrap(),
        others,
        "nothing changed"
    );

    let mut response = canned(0, "Greeting");
    response.text_es = String::new();
    assert!(message(unit(b.save_canned_response(&admin, &response).await)).contains("Spanish"));
    let untitled = canned(0, " ");
    assert!(message(unit(b.save_canned_response(&admin, &untitled).await)).contains("title"));
    assert_eq!(
        unit(b.save_canned_response(&admin, &canned(4242, "Ghost")).await),
        Err(AdminError::Refused(Refusal::Gone))
    );
    assert!(b.canned_responses(&admin).await.unwrap().is_empty());

    let short = NewStaff {
        username: "short.pw".into(),
        name: "Short".into(),
        role: Role::Nurse,
        password: "tooshort".into(),
    };
    assert!(message(unit(b.add_staff(&admin, &short).await)).contains("12"));
    let bad_name = NewStaff {
        username: "has space".into(),
        password: PASSWORD.into(),
        ..short.clone()
    };
    assert!(message(unit(b.add_staff(&admin, &bad_name).await)).contains("username"));
    let ok = NewStaff {
        username: "twice".into(),
        password: PASSWORD.into(),
        ..short
    };
    b.add_staff(&admin, &ok).await.unwrap();
    let twice = message(unit(b.add_staff(&admin, &ok).await));
    assert!(twice.contains("already"), "{twice}");
    assert!(!twice.contains(PASSWORD));
}

/// A patient's chat with the real conversation engine.
struct Patient<'a> {
    app: &'a AppState,
    sid: SessionId,
    who: Requester,
    state: ChatState,
    n: u32,
}

impl<'a> Patient<'a> {
    async fn new(app: &'a AppState, seed: u8) -> Self {
        let mut patient = Self {
            app,
            sid: SessionId([seed; 16]),
            who: Requester {
                session: format!("admin-test-session-{seed}"),
                client: None,
            },
            state: ChatState::default(),
            n: 0,
        };
        let ServerMessage::Welcome { policy_version, .. } = app.conversation.welcome() else {
            panic!("no welcome");
        };
        patient
            .send(ClientMessage::Consent {
                accepted: true,
                policy_version,
            })
            .await;
        patient
    }

    async fn send(&mut self, message: ClientMessage) -> Vec<ServerMessage> {
        let turn = Turn {
            sid: &self.sid,
            who: self.who.clone(),
        };
        match self
            .app
            .conversation
            .handle(&turn, &mut self.state, message)
            .await
        {
            Outcome::Send(messages) => messages,
            Outcome::End => Vec::new(),
        }
    }

    /// The reply's (intent, text).
    async fn say(&mut self, text: &str) -> (String, String) {
        self.n += 1;
        let messages = self
            .send(ClientMessage::Say {
                id: format!("m{}", self.n),
                text: text.into(),
            })
            .await;
        messages
            .into_iter()
            .find_map(|m| match m {
                ServerMessage::Reply { intent, text, .. } => Some((intent, text)),
                _ => None,
            })
            .unwrap()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn staffed_hours_change_what_a_patient_is_told_at_once_and_after_a_restart() {
    let w = world().await;
    let admin = w.signed_in(StaffRole::Admin).await;
    let b = &w.app.console;
    let mut first = Patient::new(&w.app, 1).await;
    let (intent, open_text) = first.say("I want to talk to a person").await;
    assert_eq!(intent, "handoff.person");
    // Wednesday closed; Thursday 11:30 to 15:00.
    let week = hours(&[
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("", ""),
        ("11:30", "15:00"),
        ("08:00", "17:00"),
        ("", ""),
        ("", ""),
    ]);
    b.set_staffed_hours(&admin, &week).await.unwrap();
    let mut second = Patient::new(&w.app, 2).await;
    let (intent, closed_text) = second.say("I want to talk to a person").await;
    assert_eq!(intent, "handoff.person");
    assert_ne!(closed_text, open_text);
    assert!(
        closed_text.contains("Thu, Dec 3 · 11:30 AM"),
        "{closed_text}"
    );
    let rows = w.audit_rows().await;
    let admin_actor = rows
        .iter()
        .find(|(_, action, _)| action == "settings.staffed_hours")
        .unwrap();
    assert!(admin_actor.0.starts_with("staff:"));
    assert_eq!(admin_actor.2, "Setting/staffed_hours#wed,thu");

    // The database's hours override the configuration's after a restart.
    let dir = w.dir.path().to_owned();
    let clock = w.clock.clone();
    drop(w.app);
    let app = open(&dir, &clock).await;
    let mut third = Patient::new(&app, 3).await;
    let (_, text) = third.say("I want to talk to a person").await;
    assert!(text.contains("Thu, Dec 3 · 11:30 AM"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_edited_faq_entry_is_what_the_assistant_answers() {
    let w = world().await;
    let admin = w.signed_in(StaffRole::Admin).await;
    let b = &w.app.console;
    let mut patient = Patient::new(&w.app, 7).await;
    let (intent, before) = patient.say("What are your hours?").await;
    assert_eq!(intent, "faq.hours");
    let odd = "Quokka lantern festival schedule";
    let (odd_intent, _) = patient.say(odd).await;
    assert_ne!(odd_intent, "faq.hours", "the model does not know it yet");

    let mut entry = b
        .faq_entries(&admin)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.intent == "faq.hours")
        .unwrap();
    assert_eq!(entry.answer_en, before);
    entry.answer_en = "From January we are open every day, 7am to 9pm.".into();
    entry.answer_es = "Desde enero abrimos todos los días, de 7 a. m. a 9 p. m.".into();
    entry.examples_en.push(odd.into());
    let started = std::time::Instant::now();
    b.set_faq_entry(&admin, &entry).await.unwrap();
    eprintln!("FAQ edit with retraining took {:?}", started.elapsed());

    let (intent, after) = patient.say("What are your hours?").await;
    assert_eq!(
        (intent.as_str(), after.as_str()),
        ("faq.hours", entry.answer_en.as_str())
    );
    let (intent, after) = patient.say(odd).await;
    assert_eq!(
        (intent.as_str(), after.as_str()),
        ("faq.hours", entry.answer_en.as_str())
    );
    let mut spanish = Patient::new(&w.app, 8).await;
    let (_, after_es) = spanish.say("¿Cuál es su horario?").await;
    assert_eq!(after_es, entry.answer_es);
    assert_eq!(
        b.faq_entries(&admin)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.intent == "faq.hours"),
        Some(entry.clone())
    );

    // Audited with what changed, never the words.
    let rows = w.audit_rows().await;
    let (_, _, entity) = rows
        .iter()
        .find(|(_, action, _)| action == "settings.faq_entry")
        .unwrap();
    assert_eq!(entity, "FaqEntry/faq.hours#answer,examples,es.answer");
    assert!(!rows.iter().any(|(a, b, c)| [a, b, c]
        .iter()
        .any(|t| t.contains("Quokka") || t.contains("7am"))));

    // And it survives a restart.
    let dir = w.dir.path().to_owned();
    let clock = w.clock.clone();
    drop(w.app);
    let app = open(&dir, &clock).await;
    let mut later = Patient::new(&app, 9).await;
    assert_eq!(later.say("What are your hours?").await.1, entry.answer_en);
}

#[tokio::test(flavor = "current_thread")]
async fn every_change_is_an_audit_event_by_the_admin() {
    let w = world().await;
    let admin = w.signed_in(StaffRole::Admin).await;
    let (target, _, _) = w.account(StaffRole::FrontDesk).await;
    let before = w.audit_rows().await.len();
    let doomed = a_canned_response(&w, &admin, "Doomed").await;
    for (call, result) in outcomes(&w, &admin, &admin, target, doomed, 5).await {
        assert_eq!(result, Ok(()), "{call}");
    }
    let rows = w.audit_rows().await.split_off(before);
    let admin_actor = rows[0].0.clone();
    assert!(admin_actor.starts_with("staff:"), "{admin_actor}");
    let mut actions: Vec<(&str, &str)> = rows
        .iter()
        .filter(|(actor, _, _)| *actor == admin_actor)
        .map(|(_, action, entity)| (action.as_str(), entity.as_str()))
        .collect();
    actions.sort_unstable();
    let target_entity = format!("StaffMember/{target}");
    let doomed_entity = format!("CannedResponse/{doomed}");
    for (action, entity) in [
        ("settings.canned_added", doomed_entity.as_str()),
        ("staff.role_changed", &target_entity),
        ("staff.account_disabled", &target_entity),
        ("staff.account_enabled", &target_entity),
        ("staff.totp_reset", &target_entity),
        ("staff.account_unlocked", &target_entity),
        ("settings.staffed_hours", "Setting/staffed_hours#sat"),
        ("settings.canned_changed", &doomed_entity),
        ("settings.canned_deleted", &doomed_entity),
    ] {
        assert!(
            actions.contains(&(action, entity)),
            "{action} {entity}: {actions:?}"
        );
    }
    assert!(actions
        .iter()
        .any(|(a, e)| *a == "staff.account_created" && e.starts_with("StaffMember/")));
    assert!(actions
        .iter()
        .any(|(a, e)| *a == "settings.faq_entry" && e.ends_with("#answer")));
    assert_eq!(
        actions
            .iter()
            .filter(|(a, _)| *a == "settings.canned_added")
            .count(),
        2
    );
}
