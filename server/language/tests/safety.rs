//! The safety screen from outside: crisis phrases in both languages caught
//! with their category, every normalisation trick an attacker or a patient
//! on a phone produces, a crisis hidden at the end of a long message,
//! negations that never lower a crisis, and ordinary clinic messages that
//! must pass. Phrases here are written for these tests; the evaluation
//! sets in `eval/` are separate.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use carechat_language::safety::{screen, Category, Concern, Screen};

const SELF_HARM_EN: &[&str] = &[
    "I want to kill myself",
    "i dont want to be alive anymore",
    "thinking about ending my life",
    "i wish i could fall asleep and never wake up",
    "everyone would be better off if i was gone",
    "i took a whole bottle of pills an hour ago",
    "i have been cutting myself again",
    "i want to die",
    "im going to end it tonight",
    "i feel like a burden to everyone and want to disappear forever",
    "my family would be fine without me",
    "life isnt worth living anymore",
    "i burned my arm with the iron on purpose",
];
const SELF_HARM_ES: &[&str] = &[
    "me quiero matar",
    "ya no quiero vivir",
    "quiero quitarme la vida",
    "estoy pensando en suicidarme",
    "me tome todas las pastillas",
    "quiero morirme",
    "ya tengo la soga en el garaje",
    "seria mas facil no estar",
    "me queme el brazo con la plancha a proposito",
];
const HARM_TO_OTHERS: &[&str] = &[
    "i want to kill my neighbor",
    "im going to hurt someone at work tomorrow",
    "voy a matar a mi vecino",
    "i bought a knife to deal with the guy next door",
    "quiero que sufra, voy a ir a su casa con el machete",
];
const ABUSE: &[&str] = &[
    "my husband hits me",
    "my boyfriend choked me last night",
    "i was raped",
    "mi esposo me pega",
    "my husband grabs my throat when we fight",
    "someone put something in my drink",
    "me dejo un ojo morado otra vez",
];
const MEDICAL: &[&str] = &[
    "i have chest pain and my left arm is numb",
    "my dad cant breathe",
    "my mom's face is drooping and she can't talk",
    "tengo dolor de pecho",
    "no puedo respirar",
    "my newborn is turning blue",
    "se agarro el pecho y se cayo",
];
const POISONING: &[&str] = &[
    "my toddler swallowed some of my pills",
    "my son drank bleach",
    "mi hijo se tomo el cloro",
    "my teenager drank windshield washer fluid",
    "le di tylenol de adulto en vez del de ninos",
];

/// Phrases whose category is known, for the tricks below.
fn crisis_phrases() -> Vec<(&'static str, Category)> {
    let mut all = Vec::new();
    for (list, category) in [
        (SELF_HARM_EN, Category::SelfHarm),
        (SELF_HARM_ES, Category::SelfHarm),
        (HARM_TO_OTHERS, Category::HarmToOthers),
        (ABUSE, Category::Abuse),
        (MEDICAL, Category::MedicalEmergency),
        (POISONING, Category::Poisoning),
    ] {
        all.extend(list.iter().map(|p| (*p, category)));
    }
    all
}

fn expect(text: &str, category: Category) {
    assert_eq!(
        screen(text),
        Some(Concern::Crisis(category)),
        "{:?}",
        text.chars()
            .rev()
            .take(80)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
}

#[test]
fn crisis_phrases_are_caught_with_their_category() {
    for (phrase, category) in crisis_phrases() {
        expect(phrase, category);
    }
}

/// Applies `trick` to the longest word of each phrase.
fn on_longest_word(phrase: &str, trick: impl Fn(&str) -> String) -> String {
    let longest = phrase
        .split(' ')
        .max_by_key(|w| w.chars().filter(char::is_ascii_alphabetic).count())
        .unwrap();
    phrase.replacen(longest, &trick(longest), 1)
}

fn every_word(phrase: &str, trick: impl Fn(&str) -> String) -> String {
    phrase.split(' ').map(&trick).collect::<Vec<_>>().join(" ")
}

fn insert_mid(word: &str, what: char) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mid = chars.len() / 2;
    chars[..mid]
        .iter()
        .chain(std::iter::once(&what))
        .chain(chars[mid..].iter())
        .collect()
}

fn fullwidth(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
            ' ' => '\u{3000}',
            other => other,
        })
        .collect()
}

/// One Latin letter swapped for its Cyrillic or Greek look-alike.
fn look_alike(word: &str) -> String {
    const SWAPS: &[(char, char)] = &[
        ('a', '\u{0430}'),
        ('e', '\u{0435}'),
        ('o', '\u{043E}'),
        ('i', '\u{0456}'),
        ('c', '\u{0441}'),
        ('p', '\u{0440}'),
    ];
    for (latin, other) in SWAPS {
        if word.contains(*latin) {
            return word.replacen(*latin, &other.to_string(), 1);
        }
    }
    word.to_owned()
}

fn leet(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            'i' => '1',
            'e' => '3',
            'a' => '4',
            'o' => '0',
            's' => '5',
            other => other,
        })
        .collect()
}

fn spaced(word: &str) -> String {
    word.chars().map(String::from).collect::<Vec<_>>().join(" ")
}

fn stretched(word: &str) -> String {
    let mut done = false;
    word.chars()
        .flat_map(|c| {
            if !done && "aeiou".contains(c) {
                done = true;
                vec![c; 4]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// One typo: two neighbouring letters swapped, in a word long enough for
/// the screen to accept typos.
fn typo(word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() >= 7 {
        chars.swap(3, 4);
    }
    chars.into_iter().collect()
}

#[test]
fn invisible_characters_inside_words_do_not_hide_a_crisis() {
    for (phrase, category) in crisis_phrases() {
        expect(&every_word(phrase, |w| insert_mid(w, '\u{200B}')), category);
        expect(
            &on_longest_word(phrase, |w| insert_mid(w, '\u{AD}')),
            category,
        );
        expect(
            &on_longest_word(phrase, |w| insert_mid(w, '\u{202E}')),
            category,
        );
    }
}

#[test]
fn fullwidth_and_look_alike_letters_do_not_hide_a_crisis() {
    for (phrase, category) in crisis_phrases() {
        expect(&fullwidth(phrase), category);
        expect(&on_longest_word(phrase, look_alike), category);
    }
}

#[test]
fn digits_for_letters_do_not_hide_a_crisis() {
    for (phrase, category) in [
        ("i want to kill myself", Category::SelfHarm),
        ("i want to die", Category::SelfHarm),
        ("me quiero matar", Category::SelfHarm),
        ("my husband hits me", Category::Abuse),
    ] {
        expect(&on_longest_word(phrase, leet), category);
    }
    expect("k1ll mys3lf", Category::SelfHarm);
    expect("su1c1d3", Category::SelfHarm);
}

#[test]
fn spaced_and_stretched_letters_do_not_hide_a_crisis() {
    expect("k i l l  m y s e l f", Category::SelfHarm);
    expect("s-u-i-c-i-d-e", Category::SelfHarm);
    expect("i want to diiiie", Category::SelfHarm);
    expect("quiero moriiiirme", Category::SelfHarm);
    for (phrase, category) in crisis_phrases() {
        expect(&on_longest_word(phrase, stretched), category);
    }
    expect(&format!("i want to {}", spaced("kill")), Category::SelfHarm);
}

#[test]
fn a_typo_does_not_hide_a_crisis() {
    expect("i keep thinking about sucide", Category::SelfHarm);
    expect("im suicdal", Category::SelfHarm);
    expect("pienso en el suisidio", Category::SelfHarm);
    for (phrase, category) in crisis_phrases() {
        expect(&on_longest_word(phrase, typo), category);
    }
}

#[test]
fn tricks_combined_do_not_hide_a_crisis() {
    for (phrase, category) in crisis_phrases() {
        let tricked = fullwidth(&on_longest_word(phrase, |w| {
            insert_mid(&look_alike(&stretched(w)), '\u{200B}')
        }));
        expect(&tricked, category);
    }
}

#[test]
fn a_crisis_at_the_end_of_a_long_message_is_caught() {
    let ordinary = "I have a question about parking and my insurance card. ".repeat(100);
    assert!(ordinary.len() >= 5000);
    for (phrase, category) in crisis_phrases() {
        expect(&format!("{ordinary}{phrase}"), category);
    }
    let huge = "what are your hours on saturday ".repeat(700);
    expect(
        &format!("{huge} and i want to end my life"),
        Category::SelfHarm,
    );
}

#[test]
fn negation_never_lowers_a_crisis() {
    expect("I'm not suicidal but I want to die", Category::SelfHarm);
    expect(
        "i would never hurt myself but i took all my pills",
        Category::SelfHarm,
    );
    expect(
        "no es que me quiera matar pero ya no quiero vivir",
        Category::SelfHarm,
    );
}

const ORDINARY: &[&str] = &[
    "what are your hours on saturday",
    "where do i park",
    "do you take aetna",
    "I hurt my knee playing soccer, can I see someone this week",
    "this traffic is killing me, are you open late",
    "I'm dying to know if you take Blue Cross",
    "I need a refill of my lisinopril",
    "can I book an appointment for my rash",
    "do you do flu shots",
    "is my refill ready",
    "when is my next appointment",
    "how do I get my records sent to a new doctor",
    "do you have a pediatrician",
    "kill some time before my appointment, is there a cafe nearby",
    "a que hora abren el sabado",
    "me muero de ganas de saber si aceptan Medicaid",
    "necesito resurtir mi metformina",
    "donde me estaciono",
    "quiero una cita para un chequeo",
    "aceptan seguro de Cigna",
    "my kid is drowning in homework, can we move his checkup",
    "that bill gave me a heart attack, can I get a payment plan",
    "had chest pains last year, are my stress test results back",
    "se me vencio el medicaid, me atienden si pago yo",
    "me muero de los nervios esperando mis resultados",
];

#[test]
fn ordinary_clinic_messages_pass() {
    let caught: Vec<_> = ORDINARY
        .iter()
        .filter(|m| matches!(screen(m), Some(Concern::Crisis(_))))
        .collect();
    assert!(caught.is_empty(), "taken for a crisis: {caught:?}");
}

#[test]
fn logistics_naming_a_medicine_or_condition_is_not_medical_advice() {
    for message in [
        "I need a refill of my lisinopril",
        "can I book an appointment for my rash",
        "do you do flu shots",
        "necesito resurtir mi metformina",
    ] {
        assert_eq!(screen(message), None, "{message}");
    }
    assert_eq!(
        screen("how much ibuprofen can I take"),
        Some(Concern::MedicalAdvice)
    );
}

#[test]
fn every_built_in_list_compiles() {
    let screen = Screen::builtin();
    for list in ["en", "es"] {
        assert!(
            screen.rule_count(Some(list), Concern::Crisis(Category::SelfHarm)) > 0,
            "{list}"
        );
    }
}

#[test]
#[ignore = "a report: prints how long screening takes"]
#[allow(clippy::print_stdout)]
fn screening_time_report() {
    // Compile the lists and train the learned layer first: that is start-up
    // work, not per message.
    let _ = screen("warm up");
    for size in [5_000, 20_000] {
        let text = "a question about my bill and the parking lot ".repeat(size / 45);
        let started = Instant::now();
        for _ in 0..20 {
            let _ = screen(&text);
        }
        println!(
            "{} characters: {:.2} ms per message",
            text.len(),
            started.elapsed().as_secs_f64() * 1000.0 / 20.0
        );
    }
}
