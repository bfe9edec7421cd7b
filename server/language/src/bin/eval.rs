//! `carechat-eval`: the labelled evaluation's figures, per language and per
//! label, for the training, development and held-out parts (see
//! [`carechat_language::eval`]).
//!
//! ```sh
//! cargo run --release -p carechat-language --bin carechat-eval            # the demo clinic
//! cargo run --release -p carechat-language --bin carechat-eval -- --check # exit 1 below the targets (see below)
//! carechat-eval --knowledge faq.toml --heldout mine.tsv --misses          # another clinic's set
//! carechat-eval --explain "i wont make it friday"                          # which safety rule decides
//! ```
//!
//! `--explain TEXT` shows how the safety screen reads one message: the
//! word-list rule that matched (list, section, group, number, phrase), what
//! the learned layer alone makes of it, and the screen's verdict. It is the
//! tool for reviewing a false alarm or a miss; it trains nothing.
//!
//! `--screen FILE` runs the word lists alone over a labelled file (the
//! evaluation format) and lists each message whose crisis-or-not verdict
//! differs from its label: the list of phrases a reviewer should consider.
//! Never give it the held-out part.
//!
//! `--misses` lists what the development part got wrong (and, with
//! `--heldout FILE`, that file's). The shipped held-out part's misses are
//! never listed: once read, it would no longer be held out.
//!
//! `--check` fails when a part falls below its floor in `eval/floors.toml`
//! in either language (a ratchet towards the targets; with `--strict` the
//! held-out part must meet the targets themselves); with `--heldout FILE`
//! it holds that file to the targets.

use std::process::ExitCode;

use carechat_language::eval::{self, TARGETS};
use carechat_language::intents::{IntentModel, TrainingSet};
use carechat_language::knowledge::{KnowledgeBase, DEMO_KNOWLEDGE_TOML};

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let mut check = false;
    let mut strict = false;
    let mut misses = false;
    let mut knowledge_path = None;
    let mut heldout_path = None;
    let mut explain = None;
    let mut screen_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--strict" => strict = true,
            "--misses" => misses = true,
            "--knowledge" => knowledge_path = args.next(),
            "--heldout" => heldout_path = args.next(),
            "--explain" => explain = args.next(),
            "--screen" => screen_path = args.next(),
            other => {
                eprintln!("carechat-eval: unknown argument {other}; use --check, --strict, --misses, --knowledge FILE, --heldout FILE, --explain TEXT, --screen FILE");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(text) = explain {
        explain_screen(&text);
        return ExitCode::SUCCESS;
    }
    if let Some(path) = screen_path {
        return screen_file(&path);
    }
    let knowledge = match &knowledge_path {
        Some(path) => KnowledgeBase::load(std::path::Path::new(path)),
        None => KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE_TOML),
    };
    let knowledge = match knowledge {
        Ok(k) => k,
        Err(e) => {
            eprintln!("carechat-eval: {e}");
            return ExitCode::from(2);
        }
    };
    let heldout_text = match &heldout_path {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("carechat-eval: could not read {path}: {e}");
                return ExitCode::from(2);
            }
        },
        None => eval::HELDOUT_TSV.to_owned(),
    };
    let heldout = match eval::parse(&heldout_text) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("carechat-eval: held-out set: {e}");
            return ExitCode::from(2);
        }
    };
    let set = match TrainingSet::for_clinic(&knowledge) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("carechat-eval: {e}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let model = IntentModel::train(&set);
    println!(
        "trained on {} examples, {} intents, in {} ms",
        set.examples.len(),
        model.intents().len(),
        started.elapsed().as_millis()
    );
    let training = eval::evaluate(&model, &eval::training_rows(&set));
    print!("{}", eval::render("training part", &training, false));
    let dev = if heldout_path.is_none() {
        match eval::parse(eval::DEV_TSV) {
            Ok(dev) => {
                let reports = eval::evaluate(&model, &dev);
                print!("{}", eval::render("development part", &reports, misses));
                Some(reports)
            }
            Err(e) => {
                eprintln!("carechat-eval: development set: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let reports = eval::evaluate(&model, &heldout);
    // The held-out part's misses are listed only for a file given with
    // --heldout: reading the shipped one's would make it a development set.
    print!(
        "{}",
        eval::render("held-out part", &reports, misses && heldout_path.is_some())
    );
    let meets = |r: &std::collections::BTreeMap<_, eval::LanguageReport>| {
        r.len() == 2 && r.values().all(|r| r.meets(&TARGETS))
    };
    let targets = format!(
        "crisis recall {:.0}%, routing at least {:.0}%, crisis false positives at most {:.0}%, in each language",
        TARGETS.crisis_recall * 100.0,
        TARGETS.routing_accuracy * 100.0,
        TARGETS.crisis_false_positive_rate * 100.0,
    );
    let said = |met: bool| if met { "met" } else { "NOT met" };
    println!(
        "targets ({targets}) on the held-out part: {}",
        said(meets(&reports))
    );
    // Until the targets are met, CI holds each part to its floor
    // (eval/floors.toml), so no change can make a figure worse.
    let passed = match (&dev, eval::parse_floors(eval::FLOORS_TOML)) {
        (Some(dev), Ok(floors)) => {
            let mut ok = true;
            for (part, figures) in [("development", dev), ("heldout", &reports)] {
                for (locale, report) in figures {
                    let floor = floors.get(part).and_then(|p| p.get(locale.as_str()));
                    let held = floor.is_some_and(|f| report.meets(f));
                    if !held {
                        println!("{part} · {locale}: below its floor in eval/floors.toml");
                    }
                    ok &= held;
                }
            }
            println!("floors (eval/floors.toml): {}", said(ok));
            ok && (!strict || meets(&reports))
        }
        (Some(_), Err(e)) => {
            eprintln!("carechat-eval: eval/floors.toml: {e}");
            return ExitCode::from(2);
        }
        (None, _) => meets(&reports),
    };
    if check && !passed {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Prints how the safety screen reads `text` (see the crate doc's
/// `--explain`).
#[allow(clippy::print_stdout)]
fn explain_screen(text: &str) {
    use carechat_language::safety::{learned::LearnedScreen, screen, Screen};
    match Screen::builtin().explain(text) {
        Some(f) => println!(
            "word lists: {} by {} list, [{}] {} rule {}: {}",
            f.concern, f.list, f.section, f.group, f.number, f.phrase
        ),
        None => println!("word lists: no rule"),
    }
    let learned = LearnedScreen::builtin().and_then(|layer| layer.check(text));
    println!(
        "learned layer: {}",
        learned.map_or_else(|| "nothing".to_owned(), |c| c.to_string())
    );
    println!(
        "screen: {}",
        screen(text).map_or_else(|| "nothing".to_owned(), |c| c.to_string())
    );
}

/// Lists the messages of a labelled file whose crisis-or-not verdict by the
/// word lists alone differs from their label (see the crate doc's
/// `--screen`).
#[allow(clippy::print_stdout)]
fn screen_file(path: &str) -> ExitCode {
    use carechat_language::safety::{Concern, Screen};
    let rows = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| eval::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("carechat-eval: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut differ = 0;
    for row in &rows {
        let labelled = row.label.starts_with("crisis.") || row.label.starts_with("emergency.");
        let found = matches!(Screen::builtin().check(&row.text), Some(Concern::Crisis(_)));
        if labelled != found {
            differ += 1;
            let verdict = if found { "caught" } else { "missed" };
            println!(
                "{verdict}\t{}\t{}\t{}",
                row.locale.as_str(),
                row.label,
                row.text
            );
        }
    }
    println!(
        "{differ} of {} messages differ from their label",
        rows.len()
    );
    ExitCode::SUCCESS
}
