#!/usr/bin/env python3
"""Merge a batch of freshly written training utterances into the language
crate's training data.

Usage:
    python3 server/language/scripts/merge_batch.py BATCH.tsv [--tag TEXT] [--dry-run]

BATCH.tsv is UTF-8, tab-separated, with the columns ``lang``, ``label``,
``text`` (a header line ``lang\tlabel\ttext`` and lines starting with ``#``
are skipped). ``lang`` is ``en`` or ``es``; ``label`` is one of the labels of
``eval/LABELS.md`` or ``none``:

* a routing label (``appointments.*``, ``labs.status``, ``refills.status``,
  ``handoff.person``, ``chat.*``, ``faq.*``, ``fallback.unknown``) is
  appended to that intent's ``en = [...]`` or ``es = [...]`` list in
  ``data/intents.toml``, keeping the file's layout (one quoted string per
  line, four spaces, trailing comma). The learned safety layer also reads
  these phrases as ordinary (``none``) messages.
* a safety label is appended to its section of
  ``data/safety/examples.tsv``: ``crisis.self_harm`` -> ``self_harm``,
  ``crisis.harm_to_others`` -> ``harm_to_others``, ``crisis.abuse`` ->
  ``abuse``, ``emergency.medical`` -> ``medical_emergency``,
  ``emergency.poisoning`` -> ``poisoning``, ``safety.medical_advice`` ->
  ``medical_advice``.
* ``none`` (an ordinary message that merely sounds alarming and has no
  clean routing label) goes to the ``none`` section of examples.tsv.

Each block of added lines is preceded by a comment naming ``--tag``, so a
reviewer can find the batch.

A batch line is dropped, never merged, when its normalised text (lowercase,
accents folded, punctuation stripped, whitespace collapsed) equals that of:
a line of the held-out part (``eval/heldout.tsv``), a line of the
development part (``eval/dev.tsv``), an existing training example
(``data/intents.toml``, ``data/safety/examples.tsv``, the demo clinic's FAQ
examples in ``server/config/demo-knowledge.toml``), or an earlier line of
the batch. The evaluation files are read only to compare normalised texts:
the script prints counts and nothing of their contents, so it never reveals
a held-out message.

Output: the number of lines added per language and label group, and the
number dropped per reason. With ``--dry-run`` nothing is written. Running
the same batch twice adds nothing the second time.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import tomllib
import unicodedata
from pathlib import Path

CRATE = Path(__file__).resolve().parent.parent
INTENTS = CRATE / "data" / "intents.toml"
EXAMPLES = CRATE / "data" / "safety" / "examples.tsv"
DEV = CRATE / "eval" / "dev.tsv"
HELDOUT = CRATE / "eval" / "heldout.tsv"
KNOWLEDGE = CRATE.parent / "config" / "demo-knowledge.toml"

SAFETY = {
    "crisis.self_harm": "self_harm",
    "crisis.harm_to_others": "harm_to_others",
    "crisis.abuse": "abuse",
    "emergency.medical": "medical_emergency",
    "emergency.poisoning": "poisoning",
    "safety.medical_advice": "medical_advice",
    "none": "none",
}
LANGS = ("en", "es")


def normalise(text: str) -> str:
    """Lowercase, fold accents, strip punctuation, collapse whitespace."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def tsv_texts(path: Path) -> set[str]:
    """Normalised texts of a lang/label/text file (nothing else is kept)."""
    seen = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("lang\t"):
            continue
        parts = line.split("\t", 2)
        if len(parts) == 3:
            seen.add(normalise(parts[2]))
    return seen


def knowledge_texts(path: Path) -> set[str]:
    """Normalised example questions of a knowledge file, both languages."""
    if not path.exists():
        return set()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    seen = set()
    for entry in data.get("faq", []):
        for example in entry.get("examples", []):
            seen.add(normalise(example))
        for example in entry.get("es", {}).get("examples", []):
            seen.add(normalise(example))
    return seen


def read_batch(path: Path, intents: set[str]) -> list[tuple[str, str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("lang\t"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            sys.exit(f"{path}:{number}: expected lang, label, text (tab-separated)")
        lang, label, text = (p.strip() for p in parts)
        if lang not in LANGS:
            sys.exit(f"{path}:{number}: unknown language {lang!r}")
        if label not in SAFETY and label not in intents:
            sys.exit(f"{path}:{number}: unknown label {label!r}")
        if not text:
            sys.exit(f"{path}:{number}: empty text")
        rows.append((lang, label, text))
    return rows


def add_to_intents(lines: list[str], additions, tag: str) -> list[str]:
    """Inserts each intent's new phrases before the `]` closing its list."""
    for (name, lang), texts in additions.items():
        try:
            start = lines.index(f'name = "{name}"')
        except ValueError:
            sys.exit(f"intents.toml: no intent {name}")
        i = start + 1
        while i < len(lines) and lines[i] != f"{lang} = [":
            if lines[i] == "[[intent]]":
                sys.exit(f"intents.toml: intent {name} has no {lang} list")
            i += 1
        j = i + 1
        while j < len(lines) and lines[j] != "]":
            j += 1
        if j == len(lines):
            sys.exit(f"intents.toml: the {lang} list of {name} is not closed")
        last = j - 1
        while last > i and not lines[last].strip().startswith('"'):
            last -= 1
        if last > i and not lines[last].rstrip().endswith(","):
            lines[last] = lines[last].rstrip() + ","
        new = [f"    # {tag}"]
        new += [f"    {json.dumps(t, ensure_ascii=False)}," for t in texts]
        lines[j:j] = new
    return lines


def add_to_examples(lines: list[str], additions, tag: str) -> list[str]:
    """Appends each section's new lines after its last line."""
    for (lang, category), texts in additions.items():
        header = f"# --- {lang} / {category} ---"
        try:
            start = lines.index(header)
        except ValueError:
            sys.exit(f"examples.tsv: no section {header!r}")
        end = start + 1
        while end < len(lines) and not lines[end].startswith("# --- "):
            end += 1
        last = end - 1
        while last > start and not lines[last].strip():
            last -= 1
        new = [f"# {tag}"] + [f"{lang}\t{category}\t{t}" for t in texts]
        lines[last + 1 : last + 1] = new
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("batch", type=Path)
    parser.add_argument("--tag", default="batch, written blind (see scripts/merge_batch.py)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    intents_text = INTENTS.read_text(encoding="utf-8")
    intents_data = tomllib.loads(intents_text)
    intent_names = {i["name"] for i in intents_data["intent"]}
    training = {normalise(t) for i in intents_data["intent"] for l in LANGS for t in i.get(l, [])}
    training |= tsv_texts(EXAMPLES) | knowledge_texts(KNOWLEDGE)
    dev = tsv_texts(DEV)
    heldout = tsv_texts(HELDOUT)

    dropped = collections.Counter()
    added = collections.Counter()
    seen: set[str] = set()
    to_intents: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    to_examples: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for lang, label, text in read_batch(args.batch, intent_names):
        key = normalise(text)
        if key in heldout:
            dropped["matches a held-out line"] += 1
        elif key in dev:
            dropped["matches a development line"] += 1
        elif key in training:
            dropped["already a training example"] += 1
        elif key in seen:
            dropped["repeated within the batch"] += 1
        else:
            seen.add(key)
            if label in SAFETY:
                to_examples[(lang, SAFETY[label])].append(text)
                group = "safety: none" if label == "none" else f"safety: {label}"
            else:
                to_intents[(label, lang)].append(text)
                group = f"routing: {label.split('.')[0]}"
            added[(lang, group)] += 1

    for lang in LANGS:
        total = sum(n for (l, _), n in added.items() if l == lang)
        print(f"{lang}: {total} added")
        for (l, group), n in sorted(added.items()):
            if l == lang:
                print(f"  {group:<32} {n:>4}")
    print(f"dropped as duplicates: {sum(dropped.values())}")
    for reason, n in sorted(dropped.items()):
        print(f"  {reason:<32} {n:>4}")

    if args.dry_run:
        print("dry run: nothing written")
        return
    new_intents = "\n".join(add_to_intents(intents_text.split("\n"), to_intents, args.tag))
    tomllib.loads(new_intents)  # still valid TOML, or fail before writing
    INTENTS.write_text(new_intents, encoding="utf-8")
    examples_text = EXAMPLES.read_text(encoding="utf-8")
    new_examples = "\n".join(add_to_examples(examples_text.split("\n"), to_examples, args.tag))
    EXAMPLES.write_text(new_examples, encoding="utf-8")


if __name__ == "__main__":
    main()
