//! The safety screen: the first thing every patient message passes, before
//! the FAQ matcher or anything else sees it.
//!
//! This module owns the decision whether a message shows a crisis (suicide,
//! self-harm, harming others), a medical emergency, or a request for medical
//! advice (diagnosis, dosage, treatment), which a chat assistant must never
//! answer from an FAQ. It does not own the reply: the caller answers each
//! [`SafetyConcern`] with the clinic's fixed text (crisis line, 911, "please
//! call us"), and never logs the message itself, which is PHI.
//!
//! # How it decides
//!
//! The text is normalized like the matcher's input ([`crate::nlu::normalize_words`]:
//! lowercase, accents and punctuation folded, texting forms and contractions
//! expanded, so "can't breathe" is `can not breathe`). Then hand-written rules
//! are tried, most severe concern first. A rule is a sequence of word slots
//! that must appear in order, each within [`MAX_GAP`] words of the previous
//! one ("kill … myself", "chest … hurts"); a slot lists words, word prefixes
//! (`suicid*`) and named word classes (`@self`). Words of 7 letters or more,
//! and prefixes of 6 or more, also match at one typo ("sucidal", "ibuprofin").
//!
//! The screen errs on the side of catching: a false alarm costs the patient a
//! "please call us" reply, a miss can cost far more. So any symptom word,
//! any medication name, or any question shaped like a diagnosis or dosage
//! question counts as a request for advice. Ordinary questions about the
//! clinic ("do you do flu shots", "do you treat kids") are kept clear by
//! requiring a first-person subject before a condition ("do *I* have the
//! flu") and by not firing on a condition followed by a service word
//! ("flu shot", "covid test").
//!
//! The rules are English, plus a few Spanish crisis and emergency phrasings
//! ("quiero morir", "dolor de pecho"); other languages are not screened.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use crate::nlu::{edits_within, normalize_words};

/// What the screen found in a message, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafetyConcern {
    /// Suicidal thoughts, self-harm, or intent to harm others.
    Crisis,
    /// A medical emergency: chest pain, trouble breathing, stroke signs,
    /// severe bleeding, overdose, anaphylaxis, unconsciousness.
    Emergency,
    /// A request for diagnosis, dosage or treatment advice, or a description
    /// of symptoms; only a clinician can answer it.
    MedicalAdvice,
}

impl SafetyConcern {
    /// A stable name for logs and metrics (never log the message itself).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crisis => "crisis",
            Self::Emergency => "emergency",
            Self::MedicalAdvice => "medical_advice",
        }
    }
}

impl fmt::Display for SafetyConcern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Screens a patient's message; `None` means it may go on to the FAQ matcher.
/// When several concerns apply, the most severe is returned.
#[must_use]
pub fn screen(text: &str) -> Option<SafetyConcern> {
    let words = normalize_words(text);
    if words.is_empty() {
        return None;
    }
    let screen = &*SCREEN;
    let message = Message::new(&words, screen);
    [
        (SafetyConcern::Crisis, &screen.crisis),
        (SafetyConcern::Emergency, &screen.emergency),
        (SafetyConcern::MedicalAdvice, &screen.medical_advice),
    ]
    .into_iter()
    .find(|(_, rules)| rules.iter().any(|rule| rule.matches(&message)))
    .map(|(concern, _)| concern)
}

/// Most words allowed between two consecutive slots of a rule.
pub const MAX_GAP: usize = 3;

/// Exact words at least this long also match at one edit.
const FUZZY_WORD_MIN_LEN: usize = 7;
/// Prefixes at least this long also match at one edit.
const FUZZY_PREFIX_MIN_LEN: usize = 6;

/// Real words one edit away from a trigger word; never treated as typos.
const NOT_TYPOS: &[&str] = &[
    "insured",
    "insurer",
    "cancel",
    "cancels",
    "canceled",
    "cancelled",
    "cooking",
    "breeding",
    "dwelling",
    "spelling",
    "smelling",
    "selling",
    "singles",
    "floating",
    "camping",
    "concession",
    "aspiring",
    "cruised",
    "strained",
    "infested",
    "parking",
    "washes",
    "homeless",
];

// ---------------------------------------------------------------------------
// Rules. Alternatives are separated by '|'; `word*` matches any word starting
// with `word`; `@class` stands for a word class below.

/// Named word classes, usable in rule slots and in other classes' lists.
const WORD_CLASSES: &[(&str, &str)] = &[
    ("@self", "myself|meself|myslf|mself|mysef|yourself|urself|ourselves|themselves|himself|herself"),
    (
        "@other",
        "him|her|them|someone|somebody|everyone|everybody|people|others|you|my|wife|husband|boyfriend|\
         girlfriend|partner|kid|kids|child|children|baby|son|daughter|mom|mother|dad|father|boss|coworker|\
         neighbor|neighbour|teacher|family|brother|sister|roommate",
    ),
    (
        "@intent",
        "want|wants|wanted|going|plan|plans|planning|planned|thinking|thought|thoughts|urge|urges|tempted|\
         ready|decided|considering|feel|feeling|try|trying",
    ),
    ("@violence", "kill*|murder*|hurt*|harm*|attack*|beat|beating|punch*|chok*|strangl*|stab*|shoot*|kil"),
    (
        "@patient",
        "i|he|she|we|my|son|daughter|kid|child|baby|husband|wife|mom|dad|mother|father|partner",
    ),
    ("@subject", "@patient|you|they|him|her|me"),
    ("@modal", "can|could|should|do|may|to|shall|would|is|must"),
    // Short words do not match at a typo, so common misspellings are listed.
    ("@chest", "chest|cheast|chets|chst|chesst|chect"),
    ("@breath", "breathe|breath|breathing|breathin|breth|brethe|breath*"),
    (
        "@pain",
        "pain|pains|painful|hurt|hurts|hurting|tight|tightness|pressure|ache|aches|aching|achy|crushing|heavy|\
         heaviness|squeezing|burning|sharp|stabbing",
    ),
    ("@limb", "arm|arms|leg|legs|face|side|hand|hands|body|foot|feet|mouth"),
    (
        "@body",
        "head|back|neck|stomach|belly|tummy|tooth|teeth|ear|ears|eye|eyes|knee|knees|hip|hips|shoulder|shoulders|\
         foot|feet|leg|legs|arm|arms|hand|hands|wrist|ankle|joints|joint|throat|skin|finger|fingers|toe|toes|\
         elbow|breast|breasts|nose|jaw|gums|chest|side|muscles|bladder|kidney|liver",
    ),
    ("@numb", "numb|numbness|weak|weakness|paralyzed|paralysed|paralysis|tingling|droop*"),
    (
        "@med",
        "ibuprofen|advil|motrin|tylenol|acetaminophen|paracetamol|aspirin|naproxen|aleve|excedrin|metformin|\
         insulin|ozempic|semaglutide|wegovy|mounjaro|tirzepatide|lisinopril|amlodipine|losartan|metoprolol|\
         atorvastatin|lipitor|simvastatin|rosuvastatin|crestor|statin|statins|levothyroxine|synthroid|warfarin|\
         coumadin|eliquis|xarelto|plavix|amoxicillin|augmentin|azithromycin|zpack|zpak|zithromax|doxycycline|\
         cipro*|keflex|cephalexin|penicillin|antibiotic|antibiotics|prednisone|steroid|steroids|benadryl|\
         diphenhydramine|claritin|zyrtec|allegra|loratadine|cetirizine|sudafed|mucinex|dayquil|nyquil|robitussin|\
         pepto|imodium|omeprazole|prilosec|nexium|pepcid|famotidine|melatonin|xanax|alprazolam|valium|diazepam|\
         ativan|lorazepam|klonopin|clonazepam|adderall|ritalin|vyvanse|zoloft|sertraline|prozac|fluoxetine|\
         lexapro|escitalopram|wellbutrin|bupropion|celexa|citalopram|trazodone|ambien|zolpidem|oxycodone|\
         oxycontin|hydrocodone|vicodin|percocet|norco|codeine|tramadol|morphine|fentanyl|opioid|opioids|\
         gabapentin|neurontin|lyrica|albuterol|inhaler|antidepressant*|antihistamine*|painkiller*|viagra|cialis|\
         ivermectin|hydroxychloroquine|paxlovid|tamiflu|suboxone|methadone|naloxone|narcan",
    ),
    (
        "@medword",
        "medication|medications|medicine|medicines|meds|med|pill|pills|tablet|tablets|drug|drugs|dose|doses|\
         dosage|@med",
    ),
    (
        "@symptom",
        "rash|rashes|lump|lumps|bump|bumps|mole|moles|fever|fevers|feverish|cough|coughs|coughing|sneezing|\
         headache|headaches|migraine|migraines|pain|pains|painful|ache|aches|aching|achy|sore|soreness|itch|\
         itchy|itching|swollen|swelling|swelled|dizzy|dizziness|lightheaded|vertigo|nausea|nauseous|nauseated|\
         vomit|vomiting|vomited|puking|throwing|diarrhea|diarrhoea|constipated|constipation|discharge|bruise|\
         bruised|bruising|blister|blisters|wart|warts|cyst|cysts|infection|infections|infected|inflamed|\
         inflammation|numb|numbness|tingling|cramps|cramping|bloated|bloating|fatigue|exhausted|insomnia|\
         congestion|congested|runny|stuffy|wheezing|wheeze|phlegm|mucus|earache|toothache|stomachache|\
         bellyache|sprain|sprained|injury|injured|injuries|hurts|hurting|bleeding|bleed|bleeds|bled|bloody|\
         pimple|pimples|hives|ulcer|palpitations|blurry|blurred|tremor|tremors|shaking|chills|sweats|spotting|\
         symptom|symptoms|diagnose|diagnosed|diagnosis|prognosis|contagious|dosage|dose|doses|dosing|mg|\
         milligrams|remedy|remedies|cure|cures|stitches|fractured|fracture|concussion|pregnant|lesion|lesions|\
         sunburn|burned|burnt|burning|burns|stings|itches|scab|scabs|pus|stiff|sneeze|sniffles|wound",
    ),
    (
        "@condition",
        "strep|cancer|tumor|tumour|tumors|diabetes|diabetic|infection|infected|pneumonia|bronchitis|uti|std|stds|\
         sti|stis|herpes|hiv|aids|chlamydia|gonorrhea|syphilis|hpv|flu|influenza|covid|cold|mono|lyme|shingles|\
         measles|chickenpox|appendicitis|concussion|asthma|copd|arthritis|gout|lupus|melanoma|sepsis|anemia|\
         anemic|thyroid|hypertension|cholesterol|adhd|autism|autistic|dementia|alzheimers|parkinsons|sinusitis|\
         allergy|allergies|allergic|ulcer|hernia|stones|clot|dvt|pregnant|rsv|whooping|pertussis|meningitis|\
         tuberculosis|tb|cellulitis|scabies|lice|ringworm|fracture|fractured|broken|sprain|sprained|torn|virus|\
         bacterial|viral|fungal|yeast|disease|disorder|syndrome|depression|depressed|anxiety|bipolar|\
         schizophrenia|ptsd|ocd|eczema|psoriasis|acne|rosacea|conjunctivitis|pinkeye|pink|sick|contagious|\
         mrsa|ebola|monkeypox|mpox|hepatitis|cirrhosis|epilepsy|glaucoma|cataracts",
    ),
    ("@judgement", "normal|serious|dangerous|infected|broken|contagious|cancerous|malignant|benign|fatal"),
    (
        "@service_context",
        "shot|shots|vaccin*|booster*|jab|jabs|test|tests|testing|screening*|screen|immuniz*|prevention|education|\
         class|classes|support|program|programs|clinic|season|patients|care|management|specialist|check|checks",
    ),
    (
        "@result",
        "result|results|level|levels|numbers|reading|readings|mri|xray|scan|ct|ultrasound|biopsy|labs|bloodwork|\
         ekg|ecg|a1c|cholesterol|psa|report|pap|mammogram",
    ),
];

/// A rule as written: slots in order, the most words allowed between two
/// slots, and an optional word class that, seen right after the last slot,
/// cancels the match ("flu" + "shot").
struct RuleSpec {
    slots: &'static [&'static str],
    max_gap: usize,
    unless_next: &'static str,
}

const fn rule(slots: &'static [&'static str]) -> RuleSpec {
    RuleSpec {
        slots,
        max_gap: MAX_GAP,
        unless_next: "",
    }
}

/// A rule whose slots must be adjacent words.
const fn rule_adjacent(slots: &'static [&'static str]) -> RuleSpec {
    RuleSpec {
        slots,
        max_gap: 0,
        unless_next: "",
    }
}

const fn rule_unless(slots: &'static [&'static str], unless_next: &'static str) -> RuleSpec {
    RuleSpec {
        slots,
        max_gap: MAX_GAP,
        unless_next,
    }
}

/// Suicidal ideation, self-harm, harming others.
const CRISIS_RULES: &[RuleSpec] = &[
    rule(&[
        "suicid*|suicide|suicidal|sucide|suicde|kms|kys|unalive*|selfharm*|homicid*|sewerslide|murder*|\
         hopeless|worthless",
    ]),
    rule(&["self", "harm*|injur*|mutilat*|destruct*|hate"]),
    rule(&[
        "kill*|kil|kll|hurt*|harm*|cut|cutting|burn|burning|hang|hanging|shoot|shooting|stab|stabbing|drown*|\
         poison|poisoning|starve|starving|off|offing|end|ending",
        "@self",
    ]),
    rule(&["end|ending|take|taking|took", "my|own", "life"]),
    rule(&["end|ending", "it|everything|things", "all|now|tonight|today|forever"]),
    rule(&["end|ending", "everything|things"]),
    rule(&["want|wants|wanted|wnt|wish|wishing|ready|plan|planning|deserve|rather|just|gonna|like", "die|dead"]),
    rule(&["want*|wanna|wnt", "live|living|alive|exist*", "anymore|any"]),
    rule(&["tired|sick|done", "of|with", "living|life|being"]),
    // "kill me now", but not "my back is killing me".
    rule_adjacent(&["kill", "me"]),
    rule(&["feel|feeling", "like", "dying|dead|die"]),
    rule(&["disappear|sleep", "forever"]),
    rule(&["nobody|noone|one", "would|will", "miss|care"]),
    rule(&["i|im|we", "will|am|gonna|going|want*|wanna", "@violence", "@other|@self"]),
    rule(&["wish", "never", "born"]),
    rule(&["wish", "not", "alive|here|exist*|born|around"]),
    rule(&["not", "want*|wish", "alive|live|living|exist|existing|wake"]),
    rule(&["not", "see", "point"]),
    rule(&["not", "want*", "here|around", "anymore|any|longer|no"]),
    rule(&["can", "not", "do", "this|it", "anymore|any|longer"]),
    rule(&["saved|saving|stockpil*|hoard*", "pills|meds|medication*"]),
    rule(&["pills|meds|medication*", "saved|stockpiled|hoarded"]),
    rule(&["been|keep|started|start", "cutting"]),
    rule(&["danger|threat", "to", "@self|others|someone|people"]),
    // "I want to end it"; may also catch "end it early" about a visit.
    rule_adjacent(&["end|ending", "it"]),
    rule(&["way|ways|how|method|methods|painless|easiest", "die"]),
    rule(&["take|enough", "to", "die"]),
    rule(&["no|not|nothing", "reason*|point|purpose|worth", "live|living|life|alive|anymore|going"]),
    rule(&["better", "off", "dead|without"]),
    rule(&["can", "not", "go", "on", "anymore|like|living|any"]),
    rule(&["give|giving|gave", "up", "on", "life|living|myself|everything"]),
    rule(&["take|taking|swallow*", "all|whole|bottle|every", "pills|pill|meds|medication*|tablets|bottle"]),
    rule(&["jump*", "bridge|building|roof|cliff|train|window|balcony"]),
    rule(&["kill|killing|murder|murdering|strangle|strangling|shoot|stab|stabbing", "@other"]),
    rule(&["@intent", "@violence", "@other|@self"]),
    // A few Spanish phrasings; the clinic serves Spanish speakers.
    rule(&["quiero|quisiera|voy|deseo", "morir|morirme|matar|matarme|muerto|muerta"]),
    rule(&["no", "quiero", "vivir"]),
    rule(&["matarme|suicidarme|cortarme|ahorcarme"]),
    rule(&["hacerme", "dano"]),
];

/// Emergencies that need 911, not a chat.
const EMERGENCY_RULES: &[RuleSpec] = &[
    // Chest pain and heart.
    rule(&["@chest", "@pain"]),
    rule(&["@pain", "@chest"]),
    rule(&["heart", "attack|attacks|racing|pounding|stopped|@pain"]),
    rule(&["cardiac", "arrest"]),
    rule(&["cpr|defibrillator|aed|ambulance|911|paramedics"]),
    // Breathing.
    rule(&["not|unable|hard|trouble|difficulty|difficult|struggling|struggle|hardly|barely|stopped|short|shortness|labored|cant", "@breath"]),
    rule(&["gasping|choking|choked|suffocat*|asphyx*|drowning|drowned"]),
    rule(&["lips|lip|face|skin|fingers|fingertips|turning", "blue|purple|gray|grey"]),
    // Stroke.
    rule(&["stroke|strokes"]),
    rule(&["slur*"]),
    rule(&["@limb", "@numb"]),
    rule(&["@numb", "@limb"]),
    rule(&["not|unable", "move|feel", "@limb|legs|arms|anything"]),
    rule(&[
        "sudden*",
        "numb*|weak*|confus*|vision|speak|talk|headache|dizz*|paraly*|blind*|collaps*|pain",
    ]),
    // Bleeding and injury.
    rule(&[
        "bleed*",
        "heavily|heavy|lot|alot|badly|bad|profusely|everywhere|severely|severe|nonstop|spurting|gushing|much|\
         uncontrollably|stop|stopping",
    ]),
    rule(&["not|cant", "stop", "bleed*|blood"]),
    rule(&["am|is|are|keeps|keep|still|started", "bleeding"]),
    rule(&["blood", "everywhere|spurting|gushing|pouring|squirting"]),
    rule(&["lot|lots|much|alot|losing|lost", "blood"]),
    rule(&["cough*|vomit*|throw*|puk*|spit*|pee*|peeing", "blood"]),
    rule(&["deep", "cut|wound|gash|laceration"]),
    rule(&["head", "injury|trauma"]),
    rule(&["hit|hurt|banged|bumped", "head"]),
    rule(&["car|motorcycle|bike", "accident|crash"]),
    rule(&["hit|struck|run", "by", "car|truck|vehicle|bus|motorcycle"]),
    rule(&["fell|fallen", "off|from|down"]),
    rule(&["fell|fallen|fall", "not|cant|unable|head|hip"]),
    rule(&["water", "broke|broken"]),
    rule(&["in|into|going", "labor"]),
    rule(&["contractions"]),
    rule(&["stabbed|gunshot|electrocuted"]),
    rule(&["bone", "sticking|through"]),
    // Overdose and poisoning.
    rule(&["overdos*|od|overdose|overdosed"]),
    // "OD'd" folds to "odd", which is also an everyday word.
    rule_adjacent(&["he|she|i|they|we|someone|friend|just|has|had|may|might|probably", "odd|oded|odeed"]),
    rule(&["took|taken|take|swallowed|ate|drank|had", "too", "many|much"]),
    rule(&[
        "swallowed|swallow|ate|drank|drink|ingested",
        "bleach|pills|battery|batteries|chemical*|cleaner|detergent|poison*|antifreeze|pod|pods|magnet*",
    ]),
    rule_unless(&["poison*"], "ivy|oak|sumac|control"),
    // Anaphylaxis.
    rule(&["anaphyla*"]),
    rule(&["throat", "clos*|swell*|swollen|tight*"]),
    rule(&["tongue|lips|lip|face|mouth|throat", "swell*|swollen"]),
    rule(&["epipen|epinephrine|epi"]),
    rule(&["allergic", "reaction|shock"]),
    // Unconsciousness and seizures.
    rule(&["unconscious*|unconcious|unresponsive|fainted|fainting|faint|collapsed|seizure*|seizing|convuls*|blacked"]),
    rule(&["passed|pass|passing", "out"]),
    rule(&["not|cant|unable", "wake*"]),
    // Other.
    rule(&["am|is|are|think|feel", "dying"]),
    rule(&["worst", "headache|pain"]),
    rule(&[
        "severe*|severely|excruciating|unbearable|crushing|extreme",
        "pain|headache|bleed*|burn*|allergic|reaction|injur*|cramp*|vomit*",
    ]),
    rule(&["it|this", "is", "emergency"]),
    rule(&["medical", "emergency"]),
    // A few Spanish phrasings; the clinic serves Spanish speakers.
    rule(&["dolor|presion", "pecho"]),
    rule(&["no", "puedo|puede", "respirar"]),
    rule(&["ataque", "corazon"]),
    rule(&["sobredosis|inconsciente|desmayo|desmayado|desmayada|convulsion*|derrame|emergencia"]),
    rule(&["sangrado|sangrando|sangra", "mucho|fuerte|abundante|mucha"]),
];

/// Requests for diagnosis, dosage or treatment, and symptom descriptions.
const MEDICAL_ADVICE_RULES: &[RuleSpec] = &[
    rule(&["@symptom"]),
    rule(&["@med"]),
    rule(&["side", "effect|effects"]),
    rule(&["hurt"]),
    rule(&["feel|feeling|felt", "sick|ill|unwell|terrible|awful|bad|weird|off|dizzy|nauseous|feverish|hot|cold"]),
    rule(&["@body", "killing|kills|bothering|acting|hurt|hurts|hurting|sore|swollen|bleeding"]),
    rule(&[
        "twist*|pulled|strain*|dislocat*|sprain*|broke|injur*|cut|burn*|bump*|hit|bang*|jam*|fractur*",
        "my|his|her|their",
        "@body",
    ]),
    rule_unless(&["with", "@condition"], "@service_context"),
    rule(&["should|do", "@patient", "get|be", "tested|checked|screened|seen|evaluated"]),
    rule(&["@medword|prescription|treatment|inhaler", "not", "working|helping"]),
    rule(&["glucose|a1c|tsh|ldl|hdl|triglycerides|psa|bp"]),
    rule(&["blood", "sugar|sugars|pressure|clot|clots|count"]),
    // "blood in my stool", but not "blood drawn in the morning".
    rule_adjacent(&["blood", "in"]),
    // Dosage.
    rule(&["how", "much|many|often", "@modal", "@subject", "take|give|have|use|drink|eat"]),
    rule(&["how", "much|many|often", "@medword|mg|milligrams|doses"]),
    rule(&[
        "stop|stopping|quit|quitting|skip|skipping|double|doubling|mix|mixing|combine|combining|switch|\
         increase|decrease|lower|reduce|start|starting|restart|wean",
        "taking|@medword",
    ]),
    rule(&["take|taking|took|drink|drinking|alcohol|eat|eating", "with|while|on|and|after", "@medword|antibiotics|alcohol|pregnant"]),
    rule(&["safe|ok|okay|dangerous|harmful|fine", "take|taking|mix|mixing|drink|drinking|during|while|pregnan*|breastfeed*"]),
    rule(&["missed|forgot|forget|skipped", "@medword|birth"]),
    rule(&["birth", "control"]),
    // Treatment.
    rule(&["what|which", "should|can|could|do", "@subject", "take|give|put|apply", "for|on"]),
    rule(&["how", "treat|cure|heal|relieve|soothe|ease|remedy"]),
    rule(&["get", "rid"]),
    rule(&["treatment|treatments|medication|medicine|therapy|cure", "for"]),
    rule(&["do|does|will|would", "@patient", "need", "stitches|antibiotics|surgery|cast|steroids|medication|medicine|meds"]),
    // Diagnosis.
    rule_unless(
        &["do|does|could|can|might|may|would|will|should", "@patient", "have|has|had|got|be|catch|caught|getting", "@condition"],
        "@service_context",
    ),
    rule_unless(&["is|could|might|can|would|does|was", "this|it|that", "@condition|@judgement"], "@service_context"),
    rule_unless(&["@patient", "have|has|had|got|caught|getting|am|is", "@condition"], "@service_context"),
    rule_unless(
        &["think|worried|worry|afraid|scared|concerned|suspect|fear", "@condition|@judgement"],
        "@service_context",
    ),
    rule(&["am|is|are", "i|he|she|my|we", "@condition|@judgement"]),
    rule(&["test|tested|testing", "positive|negative"]),
    rule(&["@result", "mean|means|normal|high|low|elevated|abnormal|bad|okay|ok|positive|negative"]),
    // "what does it mean", but not "what does copay mean".
    rule(&["what", "does|do|could|might|is", "it|this|that|these|they", "mean"]),
    rule(&["wrong", "with", "me|him|her|baby|son|daughter"]),
    rule(&["should|do|need", "i|we|he|she", "go|come|see|visit", "er|hospital|emergency|urgentcare|urgent|doctor"]),
    rule(&["should|do", "i|we", "be", "worried|concerned|scared|alarmed"]),
    rule(&["should|do", "i|we", "worry"]),
    rule(&["broken|fractured|dislocated", "bone|arm|leg|wrist|ankle|finger|toe|nose|rib|foot|hand|collarbone"]),
    rule(&["tick|dog|spider|bee|snake|cat|bug|wasp|mosquito", "bite|bites|bit|bitten|sting|stung"]),
    rule(&["bit|bitten|stung", "by"]),
];

// ---------------------------------------------------------------------------
// Compiled rules and matching.

/// One slot: the words and prefixes it accepts.
#[derive(Debug, Default)]
struct Slot {
    exact: HashSet<&'static str>,
    prefixes: Vec<&'static str>,
}

#[derive(Debug)]
struct Rule {
    slots: Vec<Slot>,
    max_gap: usize,
    unless_next: Option<Slot>,
}

#[derive(Debug)]
struct Screen {
    crisis: Vec<Rule>,
    emergency: Vec<Rule>,
    medical_advice: Vec<Rule>,
    /// Exact trigger words long enough to match at one typo.
    fuzzy_words: Vec<(Vec<char>, &'static str)>,
    /// Trigger prefixes long enough to match at one typo.
    fuzzy_prefixes: Vec<(Vec<char>, &'static str)>,
    /// Every exact trigger word, to skip the typo search for words that are
    /// already spelled right.
    all_exact: HashSet<&'static str>,
}

static SCREEN: LazyLock<Screen> = LazyLock::new(|| {
    let classes: HashMap<&str, &str> = WORD_CLASSES.iter().copied().collect();
    let compile = |specs: &[RuleSpec]| -> Vec<Rule> {
        specs
            .iter()
            .map(|spec| Rule {
                slots: spec
                    .slots
                    .iter()
                    .map(|slot| compile_slot(slot, &classes))
                    .collect(),
                max_gap: spec.max_gap,
                unless_next: (!spec.unless_next.is_empty())
                    .then(|| compile_slot(spec.unless_next, &classes)),
            })
            .collect()
    };
    let crisis = compile(CRISIS_RULES);
    let emergency = compile(EMERGENCY_RULES);
    let medical_advice = compile(MEDICAL_ADVICE_RULES);
    let mut all_exact = HashSet::new();
    let mut all_prefixes = HashSet::new();
    for rule in crisis.iter().chain(&emergency).chain(&medical_advice) {
        for slot in &rule.slots {
            all_exact.extend(slot.exact.iter().copied());
            all_prefixes.extend(slot.prefixes.iter().copied());
        }
    }
    let as_chars = |word: &'static str| (word.chars().collect::<Vec<_>>(), word);
    let mut fuzzy_words: Vec<_> = all_exact
        .iter()
        .filter(|word| word.chars().count() >= FUZZY_WORD_MIN_LEN)
        .map(|word| as_chars(word))
        .collect();
    fuzzy_words.sort();
    let mut fuzzy_prefixes: Vec<_> = all_prefixes
        .iter()
        .filter(|prefix| prefix.chars().count() >= FUZZY_PREFIX_MIN_LEN)
        .map(|prefix| as_chars(prefix))
        .collect();
    fuzzy_prefixes.sort();
    Screen {
        crisis,
        emergency,
        medical_advice,
        fuzzy_words,
        fuzzy_prefixes,
        all_exact,
    }
});

/// Splits `a|b*|@class` into exact words and prefixes, expanding classes
/// (which may name other classes).
fn compile_slot(alternatives: &'static str, classes: &HashMap<&str, &'static str>) -> Slot {
    let mut slot = Slot::default();
    let mut pending: Vec<&'static str> = vec![alternatives];
    let mut expanded: HashSet<&str> = HashSet::new();
    while let Some(list) = pending.pop() {
        for alternative in list.split('|').map(str::trim).filter(|a| !a.is_empty()) {
            if alternative.starts_with('@') {
                if let Some(&members) = classes.get(alternative) {
                    if expanded.insert(alternative) {
                        pending.push(members);
                    }
                }
            } else if let Some(prefix) = alternative.strip_suffix('*') {
                slot.prefixes.push(prefix);
            } else {
                slot.exact.insert(alternative);
            }
        }
    }
    slot
}

/// A message's words, each with the trigger words and prefixes it matches
/// at one typo.
struct Message<'a> {
    words: Vec<Word<'a>>,
}

#[derive(Clone)]
struct Word<'a> {
    text: &'a str,
    near_words: Vec<&'static str>,
    near_prefixes: Vec<&'static str>,
}

impl<'a> Message<'a> {
    fn new(words: &'a [String], screen: &Screen) -> Self {
        let mut seen: HashMap<&str, Word<'a>> = HashMap::new();
        let words = words
            .iter()
            .map(|text| {
                seen.entry(text.as_str())
                    .or_insert_with(|| Word::new(text, screen))
                    .clone()
            })
            .collect();
        Self { words }
    }
}

impl<'a> Word<'a> {
    fn new(text: &'a str, screen: &Screen) -> Self {
        let mut word = Self {
            text,
            near_words: Vec::new(),
            near_prefixes: Vec::new(),
        };
        if screen.all_exact.contains(text) || NOT_TYPOS.contains(&text) {
            return word;
        }
        let chars: Vec<char> = text.chars().collect();
        if chars.len() + 1 >= FUZZY_WORD_MIN_LEN {
            word.near_words = screen
                .fuzzy_words
                .iter()
                .filter(|(trigger, _)| edits_within(&chars, trigger, 1).is_some())
                .map(|&(_, trigger)| trigger)
                .collect();
        }
        if chars.len() + 1 >= FUZZY_PREFIX_MIN_LEN {
            word.near_prefixes = screen
                .fuzzy_prefixes
                .iter()
                .filter(|(prefix, _)| {
                    // The word's start, give or take a letter, at one edit.
                    (prefix.len().saturating_sub(1)..=prefix.len() + 1)
                        .filter_map(|len| chars.get(..len))
                        .any(|start| edits_within(start, prefix, 1).is_some())
                })
                .map(|&(_, prefix)| prefix)
                .collect();
        }
        word
    }
}

impl Slot {
    fn accepts(&self, word: &Word<'_>) -> bool {
        self.exact.contains(word.text)
            || self
                .prefixes
                .iter()
                .any(|prefix| word.text.starts_with(prefix))
            || word.near_words.iter().any(|near| self.exact.contains(near))
            || word
                .near_prefixes
                .iter()
                .any(|near| self.prefixes.contains(near))
    }
}

impl Rule {
    fn matches(&self, message: &Message<'_>) -> bool {
        (0..message.words.len()).any(|start| self.matches_from(0, start, message))
    }

    /// Whether slot `slot` accepts the word at `position` and the remaining
    /// slots follow, each within `max_gap` words.
    fn matches_from(&self, slot: usize, position: usize, message: &Message<'_>) -> bool {
        let (Some(current), Some(word)) = (self.slots.get(slot), message.words.get(position))
        else {
            return false;
        };
        if !current.accepts(word) {
            return false;
        }
        if slot + 1 == self.slots.len() {
            return !self.cancelled_after(position, message);
        }
        let last = (position + 1 + self.max_gap).min(message.words.len().saturating_sub(1));
        (position + 1..=last).any(|next| self.matches_from(slot + 1, next, message))
    }

    /// Whether one of the two words after the last slot cancels the match,
    /// as "shot" does for "flu" in "do I have to get a flu shot".
    fn cancelled_after(&self, position: usize, message: &Message<'_>) -> bool {
        let Some(unless) = &self.unless_next else {
            return false;
        };
        message
            .words
            .iter()
            .skip(position + 1)
            .take(2)
            .any(|word| unless.accepts(word))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn assert_all(expected: Option<SafetyConcern>, texts: &[&str]) {
        let wrong: Vec<String> = texts
            .iter()
            .filter(|text| screen(text) != expected)
            .map(|text| format!("{text:?} -> {:?}", screen(text)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} not screened as {expected:?}:\n{}",
            wrong.len(),
            texts.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn crisis_messages_are_caught() {
        assert_all(
            Some(SafetyConcern::Crisis),
            &[
                "I want to kill myself",
                "i dont want to be alive anymore",
                "I don't want to be alive anymore.",
                "thinking of hurting myself",
                "kms",
                "suicidal",
                "I'm suicidal",
                "i feel sucidal",
                "having suicidal thoughts",
                "i want to die",
                "I just wanna die",
                "i wish i was dead",
                "i want to end my life",
                "thinking about taking my own life",
                "i'm going to end it all tonight",
                "i've been cutting myself again",
                "i keep hurting myself on purpose",
                "self-harm",
                "i self harm",
                "everyone would be better off without me",
                "there's no reason to live",
                "i don't want to live anymore",
                "I can't go on like this",
                "i'm going to take all my pills",
                "I want to kill my husband",
                "i'm going to hurt someone",
                "thinking about hurting my baby",
                "i have thoughts of killing people",
                "I want to unalive myself",
                "kys",
                "i want to kil myself",
                "i dont want to wake up tomorrow",
                "I feel hopeless",
                "i wish i had never been born",
                "i want to jump off a bridge",
                "i wanna end it all",
                "i dont see the point anymore",
                "life isn't worth living",
                "i want to disappear forever",
                "i have a plan to kill myself",
                "sometimes i think about suicide",
                "i feel like dying",
                "kill me now",
                "i'd be better off dead",
                "nobody would miss me",
                "i want to go to sleep forever",
                "i cut myself",
                "i've been self harming",
                "going to kill everyone",
                "what's the suicide hotline number?",
                "my friend is suicidal what do i do",
                "i'm tired of living",
                "wanna die lol",
                "i'm going to hang myself",
                "idk if i want to live anymore",
                "i wnt 2 die",
                "i will hurt you",
                "suiside",
                "i want to end things",
                "i cant do this anymore",
                "i have pills saved up",
                "i dont wanna be here no more",
                "i been cutting",
                "i'm a danger to myself",
                "i feel like ending it",
                "what's the easiest way to die",
                "how many pills would it take to die",
                "quiero morir",
                "me quiero matar",
                "no quiero vivir",
                "pienso en suicidarme",
            ],
        );
    }

    #[test]
    fn emergencies_are_caught() {
        assert_all(
            Some(SafetyConcern::Emergency),
            &[
                "my chest hurts and my arm is numb",
                "cant breathe",
                "I can't breathe",
                "chest pain",
                "I have pain in my chest",
                "having trouble breathing",
                "shortness of breath",
                "my dad is having a stroke",
                "her face is drooping and her speech is slurred",
                "my left arm is numb",
                "sudden weakness on one side",
                "i cant move my leg",
                "I'm bleeding a lot",
                "the bleeding won't stop",
                "my son is bleeding heavily",
                "coughing up blood",
                "i think i overdosed",
                "my friend took too many pills",
                "my toddler swallowed bleach",
                "he OD'd",
                "my throat is closing",
                "my lips are swelling up after eating peanuts",
                "i'm having an allergic reaction",
                "anaphylaxis",
                "she is unconscious",
                "he passed out and won't wake up",
                "my mom collapsed",
                "my baby is having a seizure",
                "i think im having a heart attack",
                "his lips are turning blue",
                "worst headache of my life",
                "severe pain in my stomach",
                "i hit my head and feel confused",
                "this is an emergency",
                "should i call 911",
                "i cant breath",
                "my chest feels tight",
                "my grandpa is unresponsive",
                "I was in a car accident",
                "my face is swollen and my tongue feels big",
                "my husband is having chest pains",
                "i think my baby stopped breathing",
                "i cant catch my breath",
                "my wife is choking",
                "someone fainted in the lobby",
                "he's having a seizure",
                "she's slurring her words",
                "my kid ate some pills",
                "my throat is swelling shut",
                "i got stung by a bee and my face is swelling",
                "he's not breathing",
                "i cant feel my legs",
                "i was stabbed",
                "my water broke",
                "i think i'm in labor",
                "my heart hurts",
                "my heart is racing and i feel faint",
                "having a hard time breathing",
                "my grandma fell and can't get up",
                "she wont wake up",
                "severe chest pain",
                "i got hit by a car",
                "my husband fell off a ladder",
                "cheast pain",
                "i cant breath good",
                "i think im having an allergic reacton",
                "tengo dolor de pecho",
                "no puedo respirar",
                "mi hijo tuvo una convulsión",
                "es una emergencia",
            ],
        );
    }

    #[test]
    fn medical_advice_requests_are_caught() {
        assert_all(
            Some(SafetyConcern::MedicalAdvice),
            &[
                "do I have strep?",
                "what does my rash mean",
                "how much ibuprofen can I take",
                "should I stop taking my metformin",
                "is this lump cancer",
                "do i have covid",
                "could this be the flu",
                "i think i have a uti",
                "my son has a fever of 102",
                "what should i take for a headache",
                "how many tylenol can i take",
                "how much tylenol can I give my 2 year old",
                "can i take advil with my blood pressure meds",
                "can i drink alcohol on antibiotics",
                "is it safe to take benadryl while pregnant",
                "i missed a dose of my birth control",
                "what are the side effects of lisinopril",
                "is my blood pressure too high",
                "what do my lab results mean",
                "my a1c is 7.5, is that bad",
                "am i pregnant",
                "is it normal to have a sore throat for two weeks",
                "should i be worried about this mole",
                "my knee is swollen",
                "i have a bad cough",
                "what is the dosage for amoxicillin",
                "how do i treat a sunburn",
                "how do i get rid of a wart",
                "what's the best treatment for acne",
                "do i need stitches",
                "should i go to the er",
                "is pink eye contagious",
                "my back hurts",
                "i tested positive for covid what should i do",
                "my kid has a rash",
                "ibuprofin or tylenol for a fever",
                "is it strep or a cold",
                "can I double my dose of zoloft",
                "does my daughter have an ear infection",
                "i got bit by a tick",
                "i think my wrist is broken",
                "what could cause dizziness",
                "im diabetic can i eat sugar",
                "do you think this is infected",
                "why does my stomach hurt after eating",
                "can you prescribe me antibiotics",
                "can i get a prescription for xanax",
                "what's a normal blood pressure",
                "should i get tested for diabetes",
                "how long is strep contagious",
                "is 101 a fever",
                "what's good for a sore throat",
                "i found a lump in my breast",
                "it burns when i pee",
                "what dose of vitamin d should i take",
                "is it ok to exercise with a cold",
                "my blood sugar is 300",
                "my back is killing me",
                "i twisted my ankle",
                "i feel sick",
                "my inhaler isn't working",
                "do i need to be seen for this",
                "symptoms of covid",
            ],
        );
    }

    #[test]
    fn ordinary_clinic_questions_pass() {
        assert_all(
            None,
            &[
                "what are your hours",
                "do you take aetna",
                "where do I park",
                "do you do flu shots",
                "can I book a physical",
                "are you accepting new patients",
                "do you treat kids",
                "when r u open saturday",
                "can i get a flu shot",
                "do you have covid vaccines",
                "can i get a covid booster",
                "do you do covid tests",
                "do you test for strep",
                "can I cancel my appointment",
                "I need to cancel",
                "is my plan insured",
                "do you accept blue cross",
                "how much does a visit cost",
                "how long does it take to get my records",
                "how much time does a physical take",
                "can i switch to your clinic",
                "can you send my prescription to a different pharmacy",
                "i need a refill on my prescription",
                "my mom doesn't speak english",
                "is there a nurse line",
                "who do i call after hours",
                "what do i do in an emergency after hours",
                "is the clinic wheelchair accessible",
                "do you have a parking garage",
                "what is your phone number",
                "are you open on christmas",
                "how do i get there from the highway",
                "can I walk in today",
                "do you do sports physicals for kids",
                "can i pay my bill online",
                "how do i transfer my records",
                "is the lab open saturday",
                "can I get my blood drawn without an appointment",
                "do you have spanish speaking doctors",
                "do you see patients with medicare",
                "I can't make my appointment on Friday",
                "i can't find your office",
                "i don't have insurance",
                "can't wait to meet my new doctor",
                "i need to reschedule my appointment",
                "what's the best way to get to the clinic",
                "hi there",
                "",
                "thank you so much!",
                "is there a bus stop nearby",
                "are u open on labor day",
                "do you do std testing",
                "can i get tested for covid",
                "is the flu shot free",
                "do you do allergy shots",
                "do you offer covid testing",
                "i need my shot records",
                "my son got his shots",
                "can i stop my payment plan",
                "how do i lower my bill",
                "i'm homeless, can i still be a patient",
                "i need a doctors note for work",
                "do you do mental health care",
                "can you shoot me a text when it's ready",
                "what is your cancellation policy",
                "the website is broken",
                "can i get a sports physical",
                "do you have female doctors",
                "can i bring my kids to my appointment",
                "can i get my blood drawn in the morning",
                "what does copay mean",
                "what does in network mean",
                "¿Aceptan pacientes nuevos?",
                "¿Cuál es su horario?",
                "¿Dónde puedo estacionar?",
            ],
        );
    }

    #[test]
    fn every_demo_example_passes_the_screen() {
        // The demo questions are what patients ask the FAQ; if the screen
        // caught them, the FAQ could never answer.
        let knowledge =
            crate::knowledge::KnowledgeBase::from_toml_str(crate::knowledge::DEMO_KNOWLEDGE_TOML)
                .unwrap();
        let examples: Vec<&str> = knowledge
            .faq
            .iter()
            .flat_map(|entry| entry.examples.iter().map(String::as_str))
            .collect();
        assert_all(None, &examples);
    }

    #[test]
    fn most_severe_concern_wins() {
        assert_eq!(
            screen("I took too many pills because I want to die"),
            Some(SafetyConcern::Crisis)
        );
        assert_eq!(
            screen("my chest hurts, how much aspirin should i take"),
            Some(SafetyConcern::Emergency)
        );
    }

    #[test]
    fn texting_forms_and_punctuation_are_normalized() {
        assert_eq!(screen("I CAN'T BREATHE!!!"), Some(SafetyConcern::Emergency));
        assert_eq!(screen("i cnt breathe"), Some(SafetyConcern::Emergency));
        assert_eq!(screen("i wanna kms"), Some(SafetyConcern::Crisis));
        assert_eq!(screen("im gonna hurt myself"), Some(SafetyConcern::Crisis));
        assert_eq!(
            screen("do u think i have strep??"),
            Some(SafetyConcern::MedicalAdvice)
        );
        assert_eq!(screen("Suïcidal"), Some(SafetyConcern::Crisis));
    }

    #[test]
    fn every_word_class_named_in_a_rule_exists() {
        let classes: HashSet<&str> = WORD_CLASSES.iter().map(|(name, _)| *name).collect();
        let slots = CRISIS_RULES
            .iter()
            .chain(EMERGENCY_RULES)
            .chain(MEDICAL_ADVICE_RULES)
            .flat_map(|spec| spec.slots.iter().chain(std::iter::once(&spec.unless_next)))
            .chain(WORD_CLASSES.iter().map(|(_, members)| members));
        for slot in slots {
            for alternative in slot.split('|').map(str::trim) {
                if alternative.starts_with('@') {
                    assert!(
                        classes.contains(alternative),
                        "unknown word class {alternative}"
                    );
                }
                assert!(
                    alternative.is_empty() || alternative == alternative.to_lowercase(),
                    "{alternative} must be lowercase to match normalized text"
                );
            }
        }
    }

    #[test]
    fn concern_names_are_stable() {
        assert_eq!(SafetyConcern::Crisis.to_string(), "crisis");
        assert_eq!(SafetyConcern::Emergency.as_str(), "emergency");
        assert_eq!(SafetyConcern::MedicalAdvice.as_str(), "medical_advice");
    }

    #[test]
    fn long_messages_are_screened_quickly() {
        let long = format!(
            "{} i want to kill myself",
            "tell me about parking and billing ".repeat(300)
        );
        let started = std::time::Instant::now();
        assert_eq!(screen(&long), Some(SafetyConcern::Crisis));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
