//! `carechat-eval`: the labelled evaluation's figures, per language and per
//! label, for the training, development and held-out parts (see
//! [`carechat_language::eval`]).
//!
//! ```sh
//! cargo run --release -p carechat-language --bin carechat-eval            # the demo clinic
//! cargo run --release -p carechat-language --bin carechat-eval -- --check # exit 1 below the targets
//! carechat-eval --knowledge faq.toml --heldout mine.tsv --misses          # another clinic's set
//! ```
//!
//! `--misses` lists what the development part got wrong (and, with
//! `--heldout FILE`, that file's). The shipped held-out part's misses are
//! never listed: once read, it would no longer be held out.

use std::process::ExitCode;

use carechat_language::eval::{self, TARGETS};
use carechat_language::intents::{IntentModel, TrainingSet};
use carechat_language::knowledge::{KnowledgeBase, DEMO_KNOWLEDGE_TOML};

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let mut check = false;
    let mut misses = false;
    let mut knowledge_path = None;
    let mut heldout_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--misses" => misses = true,
            "--knowledge" => knowledge_path = args.next(),
            "--heldout" => heldout_path = args.next(),
            other => {
                eprintln!("carechat-eval: unknown argument {other}; use --check, --misses, --knowledge FILE, --heldout FILE");
                return ExitCode::from(2);
            }
        }
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
    if heldout_path.is_none() {
        match eval::parse(eval::DEV_TSV) {
            Ok(dev) => print!(
                "{}",
                eval::render("development part", &eval::evaluate(&model, &dev), misses)
            ),
            Err(e) => eprintln!("carechat-eval: development set: {e}"),
        }
    }
    let reports = eval::evaluate(&model, &heldout);
    // The held-out part's misses are listed only on request with --misses
    // --heldout FILE: reading them would make it a development set.
    print!(
        "{}",
        eval::render("held-out part", &reports, misses && heldout_path.is_some())
    );
    let passed = reports.values().all(|r| r.meets(&TARGETS)) && reports.len() == 2;
    println!(
        "targets on the held-out part, each language: crisis recall {:.0}%, routing at least {:.0}%, crisis false positives at most {:.0}%: {}",
        TARGETS.crisis_recall * 100.0,
        TARGETS.routing_accuracy * 100.0,
        TARGETS.crisis_false_positive_rate * 100.0,
        if passed { "met" } else { "NOT met" }
    );
    if check && !passed {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
