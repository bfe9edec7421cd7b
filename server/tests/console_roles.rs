//! The console's role matrix, from outside the server's code: every role,
//! and no session at all, against every method of the console backend (the
//! server functions and the realtime channel), each allowed or refused as
//! the roles say. [`MATRIX`] is the one table, written as data; a test
//! reads the backend traits' source and fails when a method is missing
//! from it.
//!
//! Front desk and nurse work the queue and receive the realtime channel;
//! compliance reads the audit log and the feedback counts; admin manages
//! accounts and settings and reads the feedback counts. Compliance and
//! admin never receive message text: every answer they get is checked for
//! the patient's and the staff's words of the chats in the world. Without
//! a session, or with a foreign origin or a wrong CSRF token, nothing
//! changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use carechat::config::{Overrides, RawConfig};
use carechat::conversation::{ChatState, Outcome, Turn};
use carechat::handoff::{Owner, Reason};
use carechat::records::Requester;
use carechat::staff::{Role as StaffRole, SessionPolicy, Staff};
use carechat::AppState;
use carechat_console::api::admin::{
    AdminBackend as _, AdminError, CannedResponse, DayHours, FaqEntry, NewStaff, StaffedHours, DAYS,
};
use carechat_console::api::feedback::FeedbackBackend as _;
use carechat_console::api::passkey::PasskeyBackend as _;
use carechat_console::api::records::{
    AuditQuery, RecordsBackend as _, UnlockReason, UnlockRequest,
};
use carechat_console::api::{ConsoleBackend, Event, Refusal, RequestFacts, Role};
use carechat_language::lang::Locale;
use chrono::Utc;
use protocol::vocab::Vote;
use protocol::{ClientMessage, ServerMessage, SessionId};
use serde::Serialize;
use serde_json::Value;

use common::console::PASSWORD;

// --- the matrix ---------------------------------------------------------------

/// What one caller gets from one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// Allowed, and it succeeds with the world's arguments.
    Ok,
    /// Allowed for the caller, but these arguments fail for a reason of the
    /// domain (a credential that does not verify, a passkey that is not
    /// there): never `NotAllowed` or `SignedOut`.
    Fails(Refusal),
    /// Refused for the caller: `NotAllowed` (the role) or `SignedOut`.
    Refused(Refusal),
}

use Cell::{Fails, Ok as OK};
/// Refused for the role.
const NO: Cell = Cell::Refused(Refusal::NotAllowed);
/// Refused without a session.
const OUT: Cell = Cell::Refused(Refusal::SignedOut);
/// Allowed; a credential that is not a WebAuthn answer is refused.
const JUNK: Cell = Fails(Refusal::BadRequest);
/// Allowed; there is no such passkey (of the caller's).
const GONE: Cell = Fails(Refusal::Gone);
/// Allowed; a sign-in that does not verify (the password sign-in's answer).
const WRONG: Cell = Fails(Refusal::BadCredentials);

/// The columns of [`MATRIX`], in order.
const CALLERS: [Caller; 5] = [
    Caller::Staff(StaffRole::FrontDesk),
    Caller::Staff(StaffRole::Nurse),
    Caller::Staff(StaffRole::Compliance),
    Caller::Staff(StaffRole::Admin),
    Caller::SignedOut,
];

/// Every method of `ConsoleBackend` and its area traits (`AdminBackend`,
/// `FeedbackBackend`, `PasskeyBackend`, `RecordsBackend`), against every
/// caller, in the order they run (`sign_out` last: it ends the session).
/// A new backend method must be added here, with what each role gets, and
/// to [`call`]; `the_matrix_names_every_backend_method` fails until it is.
///
/// `events` is the realtime channel (`/console/ws`); what it then carries is
/// [`CHANNEL`].
#[rustfmt::skip]
const MATRIX: &[(&str, [Cell; 5])] = &[
    //                         front desk  nurse   compliance  admin   signed out
    // Session.
    ("sign_in",                [OK,        OK,     OK,         OK,     OK]),
    ("me",                     [OK,        OK,     OK,         OK,     OUT]),
    // The queue and its chats.
    ("queue",                  [OK,        OK,     NO,         NO,     OUT]),
    ("conversation",           [OK,        OK,     NO,         NO,     OUT]),
    ("pick_up",                [OK,        OK,     NO,         NO,     OUT]),
    ("typing",                 [OK,        OK,     NO,         NO,     OUT]),
    ("send",                   [OK,        OK,     NO,         NO,     OUT]),
    ("hand_back",              [OK,        OK,     NO,         NO,     OUT]),
    ("close",                  [OK,        OK,     NO,         NO,     OUT]),
    ("events",                 [OK,        OK,     NO,         NO,     OUT]),
    // Administration.
    ("staff_accounts",         [NO,        NO,     NO,         OK,     OUT]),
    ("add_staff",              [NO,        NO,     NO,         OK,     OUT]),
    ("set_staff_role",         [NO,        NO,     NO,         OK,     OUT]),
    ("reset_second_factor",    [NO,        NO,     NO,         OK,     OUT]),
    ("unlock_staff",           [NO,        NO,     NO,         OK,     OUT]),
    ("set_staff_disabled",     [NO,        NO,     NO,         OK,     OUT]),
    ("staffed_hours",          [NO,        NO,     NO,         OK,     OUT]),
    ("set_staffed_hours",      [NO,        NO,     NO,         OK,     OUT]),
    ("faq_entries",            [NO,        NO,     NO,         OK,     OUT]),
    ("set_faq_entry",          [NO,        NO,     NO,         OK,     OUT]),
    ("canned_responses",       [OK,        OK,     NO,         OK,     OUT]),
    ("save_canned_response",   [NO,        NO,     NO,         OK,     OUT]),
    ("delete_canned_response", [NO,        NO,     NO,         OK,     OUT]),
    // Feedback counts.
    ("feedback_counts",        [NO,        NO,     OK,         OK,     OUT]),
    // The audit log, the patient unlock, a nurse's transcripts.
    ("audit_search",           [NO,        NO,     OK,         NO,     OUT]),
    ("audit_verify",           [NO,        NO,     OK,         NO,     OUT]),
    ("audit_export",           [NO,        NO,     OK,         NO,     OUT]),
    ("unlock",                 [OK,        OK,     NO,         NO,     OUT]),
    ("transcripts",            [NO,        OK,     NO,         NO,     OUT]),
    ("transcript",             [NO,        OK,     NO,         NO,     OUT]),
    // Passkeys: one's own, whatever the role; signing in needs no session.
    ("passkey_register_start", [OK,        OK,     OK,         OK,     OUT]),
    ("passkey_register_finish",[JUNK,      JUNK,   JUNK,       JUNK,   OUT]),
    ("passkeys",               [OK,        OK,     OK,         OK,     OUT]),
    ("passkey_remove",         [GONE,      GONE,   GONE,       GONE,   OUT]),
    ("passkey_sign_in_start",  [OK,        OK,     OK,         OK,     OK]),
    ("passkey_sign_in_finish", [WRONG,     WRONG,  WRONG,      WRONG,  WRONG]),
    // Last: it ends the session.
    ("sign_out",               [OK,        OK,     OK,         OK,     OUT]),
];

/// The kinds of realtime event ([`Event`]) each caller receives once
/// `events` answers it, or why it is refused.
#[rustfmt::skip]
const CHANNEL: [(Caller, Result<&[&str], Refusal>); 5] = [
    (Caller::Staff(StaffRole::FrontDesk),  Ok(&["queue_changed", "line", "patient_typing"])),
    (Caller::Staff(StaffRole::Nurse),      Ok(&["queue_changed", "line", "patient_typing"])),
    (Caller::Staff(StaffRole::Compliance), Err(Refusal::NotAllowed)),
    (Caller::Staff(StaffRole::Admin),      Err(Refusal::NotAllowed)),
    (Caller::SignedOut,                    Err(Refusal::SignedOut)),
];

/// A column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Staff(StaffRole),
    SignedOut,
}

impl Caller {
    /// Whether this caller must never receive message text.
    fn kept_from_text(self) -> bool {
        matches!(self, Self::Staff(StaffRole::Compliance | StaffRole::Admin))
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Staff(role) => write!(f, "{role}"),
            Self::SignedOut => f.write_str("signed out"),
        }
    }
}

/// The backend traits, as written; [`backend_methods`] reads them.
const TRAIT_SOURCES: [&str; 5] = [
    include_str!("../../console/src/api/mod.rs"),
    include_str!("../../console/src/api/admin.rs"),
    include_str!("../../console/src/api/feedback.rs"),
    include_str!("../../console/src/api/passkey.rs"),
    include_str!("../../console/src/api/records.rs"),
];

/// The name of every method of every `pub trait` in [`TRAIT_SOURCES`]
/// (each `async fn` between `pub trait` and the trait's closing brace).
fn backend_methods() -> (usize, BTreeSet<String>) {
    let mut traits = 0;
    let mut names = BTreeSet::new();
    for source in TRAIT_SOURCES {
        let mut rest = source;
        while let Some(start) = rest.find("pub trait ") {
            traits += 1;
            let body = &rest[start..];
            let end = body.find("\n}").expect("the trait ends");
            for line in body[..end].lines() {
                if let Some(after) = line.trim_start().strip_prefix("async fn ") {
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    assert!(names.insert(name.clone()), "{name} twice");
                }
            }
            rest = &body[end..];
        }
    }
    (traits, names)
}

// --- message text in the world ------------------------------------------------

/// What the patients say (in every chat of the world).
const PATIENT_TEXT: &str = "MARKER-PATIENT-TEXT-7781";
/// What a patient says while staff are subscribed to the channel.
const PATIENT_LIVE_TEXT: &str = "MARKER-PATIENT-LIVE-3317";
/// What the nurse wrote in the chat the nurse's transcript is of.
const NURSE_TEXT: &str = "MARKER-NURSE-TEXT-4410";
/// What front desk wrote in a closed chat.
const DESK_TEXT: &str = "MARKER-DESK-TEXT-2093";
/// What each chat role sends in the matrix.
const SENT_TEXT: &str = "MARKER-STAFF-SEND-5526";

const MARKERS: [&str; 5] = [
    PATIENT_TEXT,
    PATIENT_LIVE_TEXT,
    NURSE_TEXT,
    DESK_TEXT,
    SENT_TEXT,
];

// --- the world ----------------------------------------------------------------

struct World {
    app: AppState,
    origin: String,
    patients: AtomicU8,
    _dir: tempfile::TempDir,
}

/// The demo server, on a public URL that can hold passkeys.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::demo().unwrap();
    raw.apply_overrides(Overrides {
        data_dir: Some(dir.path().to_owned()),
        public_url: Some("http://localhost:8080".into()),
        ..Overrides::default()
    });
    let config = raw.validate().unwrap();
    let identity = carechat::open_identity(&config).unwrap();
    let app = AppState::open(config, identity).await.unwrap();
    let origin = app.config.public_url.clone();
    World {
        app,
        origin,
        patients: AtomicU8::new(0),
        _dir: dir,
    }
}

/// A signed-in staff member.
#[derive(Clone)]
struct Member {
    facts: RequestFacts,
    id: i64,
    name: String,
}

/// A patient's chat with the real conversation engine.
struct Patient<'a> {
    app: &'a AppState,
    sid: SessionId,
    who: Requester,
    state: ChatState,
    said: u32,
}

impl Patient<'_> {
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

    /// Says `text`; the say's id.
    async fn say(&mut self, text: &str) -> String {
        self.said += 1;
        let id = format!("m{}", self.said);
        self.send(ClientMessage::Say {
            id: id.clone(),
            text: text.into(),
        })
        .await;
        id
    }

    /// Puts the chat in the staff queue; its handoff id.
    fn queue(&self) -> String {
        self.app.handoffs.enqueue(
            &self.sid,
            &self.who.session,
            Reason::AskedForPerson,
            Locale::En,
            None,
            Utc::now(),
        );
        self.app.handoffs.for_session(&self.sid).unwrap().id
    }
}

impl World {
    fn staff(&self) -> Staff {
        Staff::new(
            self.app.store.clone(),
            Arc::new(carechat::clock::SystemClock),
            self.app.audit.clone(),
            SessionPolicy::default(),
        )
    }

    fn console(&self) -> &dyn ConsoleBackend {
        self.app.console.as_ref()
    }

    fn signed_out(&self) -> RequestFacts {
        RequestFacts {
            origin: Some(self.origin.clone()),
            ..RequestFacts::default()
        }
    }

    /// Signs a new account of `role` in as `username`.
    async fn member(&self, role: StaffRole, username: &str) -> Member {
        let facts = common::console::signed_in_as(
            &self.app.store,
            &self.app.audit,
            self.console(),
            &self.origin,
            role,
            username,
        )
        .await;
        let account = self
            .staff()
            .list()
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.username == username)
            .unwrap();
        Member {
            facts,
            id: account.id,
            name: account.display_name,
        }
    }

    /// A member of each role, in the order of [`CALLERS`] (none signed out).
    async fn members(&self) -> Vec<Option<Member>> {
        let mut members = Vec::new();
        for caller in CALLERS {
            members.push(match caller {
                Caller::Staff(role) => {
                    Some(self.member(role, &format!("user.{}", role.as_str())).await)
                }
                Caller::SignedOut => None,
            });
        }
        members
    }

    /// A consented patient who has said [`PATIENT_TEXT`] and voted on the
    /// answer.
    async fn patient(&self) -> Patient<'_> {
        let n = self.patients.fetch_add(1, Ordering::SeqCst) + 1;
        let mut patient = Patient {
            app: &self.app,
            sid: SessionId([n; 16]),
            who: Requester {
                session: format!("roles-session-{n}"),
                client: None,
            },
            state: ChatState::default(),
            said: 0,
        };
        let ServerMessage::Welcome { policy_version, .. } = self.app.conversation.welcome() else {
            panic!("no welcome");
        };
        patient
            .send(ClientMessage::Consent {
                accepted: true,
                policy_version,
            })
            .await;
        let said = patient
            .say(&format!("{PATIENT_TEXT} what are your hours?"))
            .await;
        patient
            .send(ClientMessage::Feedback {
                in_reply_to: said,
                vote: Vote::Up,
                reason: None,
            })
            .await;
        patient
    }

    /// A queued chat with the patient's words.
    async fn queued_chat(&self) -> String {
        self.patient().await.queue()
    }

    /// Chats that leave staff words in the world: the nurse writes in one
    /// and hands it back, front desk writes in another and closes it.
    /// The id of the nurse's transcript.
    async fn staff_chats(&self, desk: &Member, nurse: &Member) -> String {
        let b = self.console();
        for (member, text) in [(nurse, NURSE_TEXT), (desk, DESK_TEXT)] {
            let id = self.queued_chat().await;
            b.pick_up(&member.facts, &id).await.unwrap();
            b.send(&member.facts, &id, text).await.unwrap();
            if text == NURSE_TEXT {
                b.hand_back(&member.facts, &id).await.unwrap();
            } else {
                b.close(&member.facts, &id).await.unwrap();
            }
        }
        let transcripts = b.transcripts(&nurse.facts).await.unwrap();
        assert_eq!(transcripts.len(), 1);
        transcripts[0].id.clone()
    }
}

/// What one caller's row of calls needs, set up before it runs.
struct Ctx {
    facts: RequestFacts,
    /// A chat in the queue, nobody's.
    queued: String,
    /// A chat in the queue owned by the caller (by no one when signed out).
    owned: String,
    /// An account to change (front desk).
    target: i64,
    /// A canned response to delete.
    doomed: i64,
    /// An FAQ entry as in force, edited.
    faq: FaqEntry,
    /// A unique number for names.
    n: usize,
    /// A fresh account to sign in as: (username, TOTP secret).
    fresh: (String, String),
    /// A registration ceremony of the caller's session.
    register: String,
    /// A passkey sign-in ceremony (for a name of no account: a name
    /// locks after five failures, so each row has its own).
    sign_in: String,
    /// The nurse's transcript.
    transcript: String,
}

impl World {
    async fn ctx(
        &self,
        n: usize,
        member: Option<&Member>,
        admin: &Member,
        transcript: &str,
    ) -> Ctx {
        let b = self.console();
        let facts = member.map_or_else(|| self.signed_out(), |m| m.facts.clone());
        let queued = self.queued_chat().await;
        let owned = self.queued_chat().await;
        if let Some(member) = member {
            // Straight into the queue, whatever the role: the role, not the
            // ownership, decides.
            self.app
                .handoffs
                .pick_up(
                    &owned,
                    Owner {
                        staff_id: member.id,
                        name: member.name.clone(),
                        role: "staff".into(),
                    },
                )
                .unwrap();
        }
        let target = self
            .staff()
            .add(
                &format!("target{n}"),
                &format!("Target {n}"),
                StaffRole::FrontDesk,
                PASSWORD,
            )
            .await
            .unwrap()
            .member
            .id;
        let doomed = b
            .save_canned_response(&admin.facts, &canned(0, &format!("Doomed {n}")))
            .await
            .unwrap()
            .id;
        let faq = b.faq_entries(&admin.facts).await.unwrap().remove(0);
        let faq = FaqEntry {
            answer_en: format!("{} (edit {n})", faq.answer_en),
            ..faq
        };
        let fresh = self
            .staff()
            .add(
                &format!("fresh{n}"),
                &format!("Fresh {n}"),
                StaffRole::FrontDesk,
                PASSWORD,
            )
            .await
            .unwrap();
        let register = match member {
            Some(m) => b.passkey_register_start(&m.facts).await.unwrap().ceremony,
            None => "no-ceremony".into(),
        };
        let sign_in = b
            .passkey_sign_in_start(&self.signed_out(), &format!("no.such.user{n}"))
            .await
            .unwrap()
            .ceremony;
        Ctx {
            facts,
            queued,
            owned,
            target,
            doomed,
            faq,
            n,
            fresh: (fresh.member.username, fresh.totp_secret_base32),
            register,
            sign_in,
            transcript: transcript.to_owned(),
        }
    }
}

fn canned(id: i64, title: &str) -> CannedResponse {
    CannedResponse {
        id,
        title: title.into(),
        text_en: "Thanks for waiting, I am looking into this now.".into(),
        text_es: "Gracias por esperar, lo estoy revisando ahora.".into(),
    }
}

fn week() -> StaffedHours {
    let open = [
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("08:00", "17:00"),
        ("09:00", "12:00"),
        ("", ""),
    ];
    StaffedHours {
        days: DAYS
            .iter()
            .zip(open)
            .map(|(day, (opens, closes))| DayHours {
                day: (*day).to_owned(),
                opens: opens.to_owned(),
                closes: closes.to_owned(),
            })
            .collect(),
        time_zone: String::new(),
    }
}

fn json<T: Serialize>(r: Result<T, Refusal>) -> Result<Value, Refusal> {
    r.map(|v| serde_json::to_value(v).unwrap())
}

fn admin_json<T: Serialize>(r: Result<T, AdminError>) -> Result<Value, Refusal> {
    json(r.map_err(|e| match e {
        AdminError::Refused(r) => r,
        AdminError::Invalid(_) => Refusal::Invalid,
    }))
}

/// Makes one call of the matrix; what it answered, as JSON.
async fn call(w: &World, c: &Ctx, name: &str) -> Result<Value, Refusal> {
    let b = &w.app.console;
    let f = &c.facts;
    let query = AuditQuery::default();
    match name {
        "sign_in" => {
            let (username, secret) = &c.fresh;
            let code = Staff::totp_now(secret, Utc::now()).unwrap();
            json(b.sign_in(f, username, PASSWORD, &code).await)
        }
        "sign_out" => json(b.sign_out(f).await),
        "me" => json(b.me(f).await),
        "queue" => json(b.queue(f).await),
        "conversation" => json(b.conversation(f, &c.queued).await),
        "pick_up" => json(b.pick_up(f, &c.queued).await),
        "typing" => json(b.typing(f, &c.queued).await),
        "send" => json(b.send(f, &c.queued, SENT_TEXT).await),
        "hand_back" => json(b.hand_back(f, &c.queued).await),
        "close" => json(b.close(f, &c.owned).await),
        "events" => b.events(f).await.map(|_| Value::Null),
        "staff_accounts" => admin_json(b.staff_accounts(f).await),
        "add_staff" => {
            let new = NewStaff {
                username: format!("new.person{}", c.n),
                name: "New Person".into(),
                role: Role::FrontDesk,
                password: PASSWORD.into(),
            };
            admin_json(b.add_staff(f, &new).await)
        }
        "set_staff_role" => admin_json(b.set_staff_role(f, c.target, Role::Nurse).await),
        "set_staff_disabled" => admin_json(b.set_staff_disabled(f, c.target, true).await),
        "reset_second_factor" => admin_json(b.reset_second_factor(f, c.target).await),
        "unlock_staff" => admin_json(b.unlock_staff(f, c.target).await),
        "staffed_hours" => admin_json(b.staffed_hours(f).await),
        "set_staffed_hours" => admin_json(b.set_staffed_hours(f, &week()).await),
        "faq_entries" => admin_json(b.faq_entries(f).await),
        "set_faq_entry" => admin_json(b.set_faq_entry(f, &c.faq).await),
        "canned_responses" => admin_json(b.canned_responses(f).await),
        "save_canned_response" => admin_json(
            b.save_canned_response(f, &canned(0, &format!("New {}", c.n)))
                .await,
        ),
        "delete_canned_response" => admin_json(b.delete_canned_response(f, c.doomed).await),
        "feedback_counts" => json(b.feedback_counts(f).await),
        "audit_search" => json(b.audit_search(f, &query).await),
        "audit_verify" => json(b.audit_verify(f).await),
        "audit_export" => json(b.audit_export(f, &query).await),
        "unlock" => json(
            b.unlock(
                f,
                &UnlockRequest {
                    family: "Sample".into(),
                    birth_date: "1984-03-02".into(),
                    identifier: String::new(),
                    reason: UnlockReason::PhoneCall,
                },
            )
            .await,
        ),
        "transcripts" => json(b.transcripts(f).await),
        "transcript" => json(b.transcript(f, &c.transcript).await),
        "passkey_register_start" => json(b.passkey_register_start(f).await),
        "passkey_register_finish" => json(
            b.passkey_register_finish(f, &c.register, "Laptop", "{}")
                .await,
        ),
        "passkeys" => json(b.passkeys(f).await),
        "passkey_remove" => json(b.passkey_remove(f, "no-such-passkey").await),
        "passkey_sign_in_start" => json(
            b.passkey_sign_in_start(f, &format!("no.such.user{}", c.n))
                .await,
        ),
        "passkey_sign_in_finish" => json(b.passkey_sign_in_finish(f, &c.sign_in, "{}").await),
        other => panic!("no call for {other}: add it to `call`"),
    }
}

fn cell_of(name: &str, column: usize) -> Cell {
    MATRIX.iter().find(|(n, _)| *n == name).unwrap().1[column]
}

// --- the tests ----------------------------------------------------------------

#[test]
fn the_matrix_names_every_backend_method() {
    let (traits, methods) = backend_methods();
    assert_eq!(traits, 5, "ConsoleBackend and its four area traits");
    let listed: BTreeSet<String> = MATRIX.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(listed.len(), MATRIX.len(), "a call listed twice");
    let missing: Vec<_> = methods.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&methods).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the role matrix must name every backend method: missing {missing:?}, not a method {stale:?}"
    );
    // A cell is refused for the role or the session, or allowed.
    for (name, cells) in MATRIX {
        for cell in cells {
            match cell {
                Cell::Refused(r) => assert!(
                    matches!(r, Refusal::NotAllowed | Refusal::SignedOut),
                    "{name}"
                ),
                Cell::Fails(r) => assert!(
                    !matches!(r, Refusal::NotAllowed | Refusal::SignedOut),
                    "{name}"
                ),
                Cell::Ok => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_and_signed_out_against_every_backend_call() {
    let w = world().await;
    let members = w.members().await;
    let desk = members[0].clone().unwrap();
    let nurse = members[1].clone().unwrap();
    // Checks state between rows, and sets up each row's (outside the matrix).
    let observer = w.member(StaffRole::Admin, "observer.admin").await;
    let transcript = w.staff_chats(&desk, &nurse).await;
    let b = w.console();

    let mut answers: HashMap<(usize, &str), String> = HashMap::new();
    for (column, caller) in CALLERS.iter().enumerate() {
        let member = members[column].as_ref();
        let c = w.ctx(column, member, &observer, &transcript).await;
        for (name, cells) in MATRIX {
            let got = call(&w, &c, name).await;
            match (cells[column], &got) {
                (Cell::Ok, Ok(_)) => {}
                (Cell::Fails(expected) | Cell::Refused(expected), Err(r)) => {
                    assert_eq!(*r, expected, "{caller}: {name}");
                }
                (expected, got) => panic!("{caller}: {name}: expected {expected:?}, got {got:?}"),
            }
            let text = match &got {
                Ok(value) => value.to_string(),
                Err(r) => serde_json::to_string(r).unwrap(),
            };
            if caller.kept_from_text() {
                for marker in MARKERS {
                    assert!(
                        !text.contains(marker),
                        "{caller} received message text from {name}: {text}"
                    );
                }
            }
            answers.insert((column, *name), text);
        }

        // What a refused call would have changed is unchanged.
        let queued = w.app.handoffs.get(&c.queued).map(|(_, e)| e);
        if cell_of("hand_back", column) == Cell::Ok {
            assert!(queued.is_none(), "{caller}: picked up and handed back");
        } else {
            let queued = queued.unwrap();
            assert!(queued.owner.is_none(), "{caller}: nobody picked it up");
        }
        let owned = w.app.handoffs.get(&c.owned).map(|(_, e)| e);
        if cell_of("close", column) == Cell::Ok {
            assert!(owned.is_none(), "{caller}: closed");
        } else {
            let owner = owned.unwrap().owner.map(|o| o.staff_id);
            assert_eq!(owner, member.map(|m| m.id), "{caller}: not closed");
        }
        let accounts = b.staff_accounts(&observer.facts).await.unwrap();
        let target = accounts.iter().find(|a| a.id == c.target).unwrap();
        let canned = b.canned_responses(&observer.facts).await.unwrap();
        let added = accounts
            .iter()
            .any(|a| a.username == format!("new.person{column}"));
        if cell_of("set_staff_role", column) == Cell::Ok {
            assert_eq!((target.role, target.disabled), (Role::Nurse, true));
            assert!(added && !canned.iter().any(|r| r.id == c.doomed));
        } else {
            assert_eq!((target.role, target.disabled), (Role::FrontDesk, false));
            assert!(!added && canned.iter().any(|r| r.id == c.doomed));
        }
        // Signed out now, whoever it was.
        assert_eq!(b.me(&c.facts).await.err(), Some(Refusal::SignedOut));
    }

    // The checks for text see it where it is: the chat roles read the
    // patient's words, and the nurse the staff's in their transcript.
    for column in [0, 1] {
        assert!(answers[&(column, "conversation")].contains(PATIENT_TEXT));
    }
    let read = &answers[&(1, "transcript")];
    assert!(
        read.contains(PATIENT_TEXT) && read.contains(NURSE_TEXT),
        "{read}"
    );
    // And compliance read an audit log in which those chats happened.
    let log = &answers[&(2, "audit_export")];
    assert!(
        log.contains("handoff") || log.contains("transcript"),
        "{log}"
    );
}

/// Everything that arrives on `events` within a short while.
async fn drain(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<Event> {
    let mut got = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await
    {
        got.push(event);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_realtime_channel_carries_chats_to_front_desk_and_nurses_only() {
    let w = world().await;
    let members = w.members().await;
    let desk = members[0].clone().unwrap();
    let b = w.console();
    let mut channels = Vec::new();
    for (column, (caller, expected)) in CHANNEL.iter().enumerate() {
        assert_eq!(CALLERS[column], *caller);
        let facts = members[column]
            .as_ref()
            .map_or_else(|| w.signed_out(), |m| m.facts.clone());
        let events = b.events(&facts).await;
        assert_eq!(
            events.as_ref().map(|_| ()).map_err(|r| *r),
            expected.map(|_| ()),
            "{caller}"
        );
        channels.push(events.ok());
    }

    // A chat is queued, the patient says something, front desk picks it
    // up, the patient types and front desk answers.
    let mut patient = w.patient().await;
    let id = patient.queue();
    patient.say(PATIENT_LIVE_TEXT).await;
    b.pick_up(&desk.facts, &id).await.unwrap();
    patient.send(ClientMessage::Typing).await;
    b.send(&desk.facts, &id, SENT_TEXT).await.unwrap();

    for (column, (caller, expected)) in CHANNEL.iter().enumerate() {
        let Some(events) = channels[column].as_mut() else {
            continue;
        };
        let got = drain(events).await;
        let kinds: BTreeSet<String> = got
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let expected: BTreeSet<String> =
            expected.unwrap().iter().map(|k| (*k).to_owned()).collect();
        assert_eq!(kinds, expected, "{caller}");
        let text = serde_json::to_string(&got).unwrap();
        assert!(
            text.contains(PATIENT_LIVE_TEXT) && text.contains(SENT_TEXT),
            "{caller}: {text}"
        );
        assert!(!caller.kept_from_text(), "{caller} has the channel");
    }
}

#[tokio::test]
async fn without_a_session_a_good_origin_or_the_csrf_token_nothing_happens() {
    let w = world().await;
    let id = w.queued_chat().await;
    // (Every call without a session is a column of the matrix.)
    let nobody = w.signed_out();
    assert_eq!(
        w.app.console.pick_up(&nobody, &id).await,
        Err(Refusal::SignedOut)
    );
    let nurse = w.member(StaffRole::Nurse, "user.nurse").await.facts;
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
    let desk = w
        .member(StaffRole::FrontDesk, "user.front_desk")
        .await
        .facts;
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

/// An open `/console/ws` used to be checked only when it opened, and kept
/// carrying message text to a nurse demoted to compliance or signed out;
/// now each channel is re-checked before every event and every few
/// seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_channel_ends_when_its_session_or_its_role_does() {
    let w = world().await;
    let b = w.console();
    let admin = w.member(StaffRole::Admin, "user.admin").await;
    let demoted = w.member(StaffRole::Nurse, "user.nurse").await;
    let leaving = w.member(StaffRole::FrontDesk, "user.front_desk").await;
    let mut demoted_events = b.events(&demoted.facts).await.unwrap();
    let mut leaving_events = b.events(&leaving.facts).await.unwrap();
    b.set_staff_role(&admin.facts, demoted.id, Role::Compliance)
        .await
        .unwrap();
    assert_eq!(
        b.queue(&demoted.facts).await.err(),
        Some(Refusal::NotAllowed),
        "demoted: the calls refuse at once"
    );
    b.sign_out(&leaving.facts).await.unwrap();
    drain(&mut demoted_events).await;
    drain(&mut leaving_events).await;

    let mut patient = w.patient().await;
    patient.queue();
    patient.say(PATIENT_LIVE_TEXT).await;
    let mut leaks = Vec::new();
    for (who, events) in [
        ("demoted to compliance", &mut demoted_events),
        ("signed out", &mut leaving_events),
    ] {
        let text = serde_json::to_string(&drain(events).await).unwrap();
        if text.contains(PATIENT_LIVE_TEXT) {
            leaks.push(who);
        }
    }
    assert!(
        leaks.is_empty(),
        "the channel still carries message text to: {leaks:?}"
    );
}
