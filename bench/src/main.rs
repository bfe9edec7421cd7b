//! `carechat-bench`: the load generator and benchmarks (`scripts/bench`).
//!
//! It starts a real `carechat serve` (release build, demo clinic, SQLite)
//! for each phase, speaks the protocol to it over loopback as many widgets
//! would, prints a table and writes the figures as JSON. Nothing is
//! simulated: every handshake is a real `POST /v1/handshake`, every
//! question a sealed frame on a real WebSocket, answered by the server's
//! real conversation engine.
//!
//! # Layout
//! - [`server`]: starting `carechat serve` with the per-address limits lifted.
//! - [`patient`]: one widget's protocol client.
//! - [`crypto`]: the handshake crypto ceiling, per P-256 implementation.
//! - [`audit`]: durable audit appends per second on the server's audit code.
//! - [`stats`]: latency percentiles.
//!
//! The load generator shares the machine with the server, as the issue's
//! figures did: on two cores every figure is a floor for what the server
//! does on a machine of its own.

// A benchmark's job is to print its table.
#![allow(clippy::print_stdout)]

mod audit;
mod crypto;
mod patient;
mod server;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use futures_util::{stream, StreamExt as _};
use patient::Patient;
use serde::Serialize;
use server::Server;
use stats::Summary;

/// FAQ questions the load asks in turn (the demo clinic answers each).
const QUESTIONS: [&str; 4] = [
    "What are your opening hours?",
    "Where is the clinic?",
    "Do you take Medicare?",
    "What services do you offer?",
];

/// The latency target the rate sweep holds to.
const P99_TARGET_MS: f64 = 20.0;

/// How big a run is: the full one, or a quick one that only proves the
/// benchmark still works.
struct Sizes {
    crypto_span: Duration,
    handshake_span: Duration,
    turn_sessions: [usize; 2],
    sweep_rates: &'static [f64],
    warmup: Duration,
    window: Duration,
    idle_sessions: usize,
    audit_span: Duration,
}

const FULL: Sizes = Sizes {
    crypto_span: Duration::from_secs(3),
    handshake_span: Duration::from_secs(8),
    turn_sessions: [1_000, 5_000],
    sweep_rates: &[1.0, 2.0, 3.0, 5.0, 7.0, 10.0],
    warmup: Duration::from_secs(3),
    window: Duration::from_secs(15),
    idle_sessions: 10_000,
    audit_span: Duration::from_secs(5),
};

const QUICK: Sizes = Sizes {
    crypto_span: Duration::from_millis(300),
    handshake_span: Duration::from_secs(1),
    turn_sessions: [50, 100],
    sweep_rates: &[1.0, 2.0],
    warmup: Duration::from_secs(1),
    window: Duration::from_secs(2),
    idle_sessions: 200,
    audit_span: Duration::from_millis(500),
};

/// Everything one run measured, as written to the JSON file.
#[derive(Serialize)]
struct Report {
    machine: String,
    quick: bool,
    crypto_ceiling: Option<crypto::Ceilings>,
    handshakes: Option<HandshakeRun>,
    turns: Vec<TurnRun>,
    sweep: Vec<TurnRun>,
    best_rate_under_target: Option<f64>,
    idle: Option<IdleRun>,
    audit: Option<audit::AuditRun>,
}

/// The phases, in the order they run (`--only` picks some).
const PHASES: [&str; 4] = ["handshakes", "turns", "idle", "audit"];

#[derive(Clone, Copy, Serialize)]
struct HandshakeRun {
    per_second: f64,
    failed: u64,
    /// Of the fastest ceiling measured in this run.
    ratio_to_fastest: f64,
    /// Handshakes per core the server used, of the fastest ceiling per
    /// core: the same ratio with the load generator's share of the
    /// machine taken out.
    ratio_per_server_core: f64,
    /// The server's CPU over the window, in cores.
    server_cores: f64,
}

#[derive(Clone, Copy, Serialize)]
struct TurnRun {
    sessions: usize,
    questions_per_session_per_second: f64,
    summary: Summary,
    server_cores: f64,
}

#[derive(Clone, Copy, Serialize)]
struct IdleRun {
    sessions: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
    kib_per_session: f64,
}

struct Args {
    carechat: PathBuf,
    json: PathBuf,
    quick: bool,
    only: Vec<String>,
}

impl Args {
    fn runs(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }
}

fn args() -> Result<Args> {
    let mut carechat = PathBuf::from("target/release/carechat");
    let mut json = PathBuf::from("target/bench/bench.json");
    let mut quick = false;
    let mut only = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--carechat" => carechat = it.next().context("--carechat needs a path")?.into(),
            "--json" => json = it.next().context("--json needs a path")?.into(),
            "--quick" => quick = true,
            "--only" => {
                let list = it.next().context("--only needs phases, e.g. turns,idle")?;
                for phase in list.split(',') {
                    if !PHASES.contains(&phase) {
                        bail!("unknown phase {phase:?}; the phases are {}", PHASES.join(", "));
                    }
                    only.push(phase.to_owned());
                }
            }
            other => bail!(
                "unknown argument {other:?}; usage: carechat-bench [--carechat PATH] [--json PATH] [--quick] [--only {}]",
                PHASES.join(",")
            ),
        }
    }
    Ok(Args {
        carechat,
        json,
        quick,
        only,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let sizes = if args.quick { &QUICK } else { &FULL };
    let machine = machine();
    println!(
        "carechat-bench on {machine}{}",
        if args.quick { " (quick)" } else { "" }
    );

    let (mut ceiling, mut handshakes) = (None, None);
    if args.runs("handshakes") {
        println!("… crypto ceiling");
        let measured = crypto::measure(sizes.crypto_span)?;
        println!("… handshakes");
        handshakes = Some(handshake_run(&args, sizes, &measured).await?);
        ceiling = Some(measured);
    }
    let (mut turns, mut sweep) = (Vec::new(), Vec::new());
    if args.runs("turns") {
        println!("… turns");
        (turns, sweep) = turn_runs(&args, sizes).await?;
    }
    let best_rate_under_target = sweep
        .iter()
        .filter(|run| run.summary.p99_ms <= P99_TARGET_MS && run.summary.unanswered == 0)
        .map(|run| run.summary.per_second)
        .reduce(f64::max);
    let mut idle = None;
    if args.runs("idle") {
        println!("… idle sessions");
        idle = Some(idle_run(&args, sizes).await?);
    }
    let mut audit = None;
    if args.runs("audit") {
        println!("… audit appends");
        audit = Some(audit::measure(64, sizes.audit_span).await?);
    }

    let report = Report {
        machine,
        quick: args.quick,
        crypto_ceiling: ceiling,
        handshakes,
        turns,
        sweep,
        best_rate_under_target,
        idle,
        audit,
    };
    print_table(&report);
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, serde_json::to_vec_pretty(&report)?)?;
    println!("\nwrote {}", args.json.display());
    Ok(())
}

/// Floods `POST /v1/handshake` from 32 clients at once. The hellos are made
/// beforehand, so the generator spends its CPU on HTTP only; a few full
/// handshakes are verified first, proving that the answers are real.
async fn handshake_run(
    args: &Args,
    sizes: &Sizes,
    ceiling: &crypto::Ceilings,
) -> Result<HandshakeRun> {
    let server = Server::start(&args.carechat).await?;
    let http = reqwest::Client::new();
    for _ in 0..8 {
        Patient::join(&http, &server.addr, &server.pinned).await?;
    }
    let hellos: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..256)
            .map(|_| {
                let hello = protocol::ClientHandshake::start(&mut rand_core::OsRng).hello();
                serde_json::to_vec(&hello)
            })
            .collect::<Result<_, _>>()?,
    );
    let cpu_before = server.cpu_time()?;
    let started = Instant::now();
    let span = sizes.handshake_span;
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let (http, hellos, addr) = (http.clone(), hellos.clone(), server.addr.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                let mut i = task;
                while started.elapsed() < span {
                    i = (i + 32) % hellos.len();
                    match patient::post_hello(&http, &addr, hellos[i].clone()).await {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (o, f) = task.await?;
        ok += o;
        failed += f;
    }
    let elapsed = started.elapsed();
    let server_cores = (server.cpu_time()? - cpu_before).as_secs_f64() / elapsed.as_secs_f64();
    let per_second = ok as f64 / elapsed.as_secs_f64();
    Ok(HandshakeRun {
        per_second,
        failed,
        ratio_to_fastest: per_second / ceiling.fastest(),
        ratio_per_server_core: (per_second / server_cores)
            / (ceiling.fastest() / ceiling.threads as f64),
        server_cores,
    })
}

/// Joins `count` more patients, 100 at a time.
async fn join(server: &Server, count: usize) -> Result<Vec<Patient>> {
    let http = reqwest::Client::new();
    let joined: Vec<Result<Patient>> = stream::iter(0..count)
        .map(|_| Patient::join(&http, &server.addr, &server.pinned))
        .buffer_unordered(100)
        .collect()
        .await;
    joined.into_iter().collect()
}

/// FAQ turns at the first session count, the rate sweep on those sessions,
/// then the second session count.
async fn turn_runs(args: &Args, sizes: &Sizes) -> Result<(Vec<TurnRun>, Vec<TurnRun>)> {
    let mut server = Server::start(&args.carechat).await?;
    let [first, second] = sizes.turn_sessions;
    let mut patients = join(&server, first).await?;
    let mut sweep = Vec::new();
    for &rate in sizes.sweep_rates {
        let (back, run) = turns(&server, patients, rate, sizes).await?;
        patients = back;
        println!(
            "   {} sessions × {rate}/s: {:.0} replies/s, p99 {:.1} ms",
            run.sessions, run.summary.per_second, run.summary.p99_ms
        );
        let over = run.summary.p99_ms > P99_TARGET_MS;
        sweep.push(run);
        if over || !server.alive() {
            break;
        }
    }
    let mut turns_at = vec![sweep[0]];
    patients.extend(join(&server, second.saturating_sub(patients.len())).await?);
    let (_, run) = turns(&server, patients, 1.0, sizes).await?;
    println!(
        "   {} sessions × 1/s: {:.0} replies/s, p99 {:.1} ms",
        run.sessions, run.summary.per_second, run.summary.p99_ms
    );
    turns_at.push(run);
    if !server.alive() {
        bail!("the server died under load:\n{}", server.log_tail());
    }
    Ok((turns_at, sweep))
}

/// Every patient asks about `rate` questions a second (its first at a
/// random moment in the first period), for the warm-up and then the
/// measured window. A patient waits for each answer before its next
/// question, as a person does; a late answer does not make it ask twice as
/// fast afterwards.
async fn turns(
    server: &Server,
    patients: Vec<Patient>,
    rate: f64,
    sizes: &Sizes,
) -> Result<(Vec<Patient>, TurnRun)> {
    let sessions = patients.len();
    let period = Duration::from_secs_f64(1.0 / rate);
    let begin = tokio::time::Instant::now();
    let measure_from = begin + sizes.warmup;
    let end = measure_from + sizes.window;
    let cpu_before = server.cpu_time()?;
    let tasks: Vec<_> = patients
        .into_iter()
        .enumerate()
        .map(|(n, mut patient)| {
            tokio::spawn(async move {
                let offset = f64::from(rand_core::RngCore::next_u32(&mut rand_core::OsRng))
                    / f64::from(u32::MAX);
                let mut next = begin + period.mul_f64(offset);
                let mut samples = Vec::new();
                let mut asked = n;
                loop {
                    tokio::time::sleep_until(next).await;
                    let sent = tokio::time::Instant::now();
                    if sent >= end {
                        return (Some(patient), samples, 0);
                    }
                    asked += 1;
                    let counted = sent >= measure_from;
                    match patient.ask(QUESTIONS[asked % QUESTIONS.len()]).await {
                        Ok(took) if counted => samples.push(took),
                        Ok(_) => {}
                        Err(_) => {
                            return (None, samples, usize::from(counted));
                        }
                    }
                    next = (next + period).max(tokio::time::Instant::now());
                }
            })
        })
        .collect();
    let (mut back, mut samples, mut unanswered) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        let (patient, s, u) = task.await?;
        back.extend(patient);
        samples.extend(s);
        unanswered += u;
    }
    let cpu = server.cpu_time()? - cpu_before;
    let server_cores = cpu.as_secs_f64() / (sizes.warmup + sizes.window).as_secs_f64();
    Ok((
        back,
        TurnRun {
            sessions,
            questions_per_session_per_second: rate,
            summary: Summary::of(samples, sizes.window, unanswered),
            server_cores,
        },
    ))
}

/// The server's resident memory before and after `idle_sessions`
/// consented patients connect and fall quiet.
async fn idle_run(args: &Args, sizes: &Sizes) -> Result<IdleRun> {
    let server = Server::start(&args.carechat).await?;
    // One patient first, so that what every session shares (the intent
    // model's first use, pools, caches) is not counted per session.
    let warm = join(&server, 1).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before_kib = server.rss_kib()?;
    let patients = join(&server, sizes.idle_sessions).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after_kib = server.rss_kib()?;
    drop((warm, patients));
    Ok(IdleRun {
        sessions: sizes.idle_sessions,
        rss_before_kib,
        rss_after_kib,
        kib_per_session: rss_after_kib.saturating_sub(rss_before_kib) as f64
            / sizes.idle_sessions as f64,
    })
}

fn print_table(r: &Report) {
    println!("\n{:<58} {:>14}", "figure", "value");
    println!("{}", "-".repeat(73));
    let row = |name: &str, value: String| println!("{name:<58} {value:>14}");
    if let (Some(c), Some(h)) = (&r.crypto_ceiling, &r.handshakes) {
        row(
            &format!(
                "crypto ceiling, RustCrypto p256, the widget's ({} threads), hs/s",
                c.threads
            ),
            format!("{:.0}", c.rustcrypto),
        );
        row(
            &format!(
                "crypto ceiling, ring, the server's ({} threads), hs/s",
                c.threads
            ),
            format!("{:.0}", c.ring),
        );
        row("handshakes/s (32 clients)", format!("{:.0}", h.per_second));
        row(
            "  of the fastest ceiling",
            format!("{:.0}%", h.ratio_to_fastest * 100.0),
        );
        row(
            "  per core the server used, of the ceiling per core",
            format!("{:.0}%", h.ratio_per_server_core * 100.0),
        );
        row("  server CPU, cores", format!("{:.2}", h.server_cores));
    }
    for t in r.turns.iter().chain(r.sweep.iter().skip(1)) {
        let s = &t.summary;
        row(
            &format!(
                "FAQ turn, {} sessions × {}/s: p50/p99/max ms",
                t.sessions, t.questions_per_session_per_second
            ),
            format!("{:.1}/{:.1}/{:.0}", s.p50_ms, s.p99_ms, s.max_ms),
        );
        row(
            "  replies/s (unanswered)",
            format!("{:.0} ({})", s.per_second, s.unanswered),
        );
        row("  server CPU, cores", format!("{:.2}", t.server_cores));
    }
    if !r.sweep.is_empty() {
        row(
            &format!("highest replies/s with p99 ≤ {P99_TARGET_MS} ms"),
            r.best_rate_under_target
                .map_or("none".into(), |v| format!("{v:.0}")),
        );
    }
    if let Some(idle) = &r.idle {
        row(
            &format!("memory per idle session ({} sessions), KiB", idle.sessions),
            format!("{:.1}", idle.kib_per_session),
        );
    }
    if let Some(audit) = &r.audit {
        row(
            &format!("audit appends/s ({} writers, SQLite)", audit.writers),
            format!("{:.0}", audit.per_second),
        );
    }
}

/// A line naming the machine: cores and the CPU model.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, m)| m.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}")
}
