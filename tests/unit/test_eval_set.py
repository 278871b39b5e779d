"""Integrity checks for the curated retrieval-evaluation set in eval/questions.jsonl.

Standard library + pytest only.  See eval/README.md for the rules being enforced.
"""

import json
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_PATH = ROOT / "eval" / "questions.jsonl"
CORPUS_PATH = ROOT / "corpus" / "position-statement.txt"
REFERENCES_PATH = ROOT / "corpus" / "references.json"

EXPECTED_KEYS = {"id", "question", "gold_spans", "reference_key", "tags", "split", "answerable"}
SPLITS = {"dev", "test"}
TAG_VOCABULARY = {
    # section tags
    "sec1-A",
    "sec1-B",
    "sec1-C",
    "sec1-D",
    "sec2",
    "appendix",
    "bibliography",
    "footnote",
    "definitions",
    "dates",
    "guideline-q",
    # kind tags
    "dose",
    "number",
    "contraindication",
    "abbreviation",
    "spelling",
    "adverse-effects",
    "evidence-grade",
    "citation-lookup",
    "mechanism",
    "unanswerable",
    "near-miss",
    # provenance: items exported from an educator's teaching set (curate before adding)
    "teaching-set",
    # style tags: how the question is typed
    "ward",
    "case",
    "fresh",
    "typo",
}
# Fresh batches (eval/README.md, "Fresh batches"): a style tag `batch-YYYY-MM-DD[-x]`, never the
# primary tag; the items are held out in the test split until the batch is retired to dev, and
# kept out of the alternation either way.
BATCH_TAG = re.compile(r"batch-(\d{4}-\d{2}-\d{2})(?:-[a-z0-9])?")
MIN_BATCH = 40
MIN_QUESTIONS = 100
MIN_UNANSWERABLE = 15
NGRAM = 6
TOKEN_RE = re.compile(r"[a-z0-9]+")


def batch_tags(item):
    return [t for t in item["tags"] if BATCH_TAG.fullmatch(t)]


def tokens(text):
    return TOKEN_RE.findall(text.lower())


def ngrams(toks, n=NGRAM):
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


@pytest.fixture(scope="module")
def corpus():
    return CORPUS_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference_keys():
    records = json.loads(REFERENCES_PATH.read_text(encoding="utf-8"))
    return {r["key"] for r in records}


@pytest.fixture(scope="module")
def raw_lines():
    lines = QUESTIONS_PATH.read_text(encoding="utf-8").splitlines()
    return [(n, line) for n, line in enumerate(lines, 1) if line.strip()]


@pytest.fixture(scope="module")
def items(raw_lines):
    return [json.loads(line) for _, line in raw_lines]


def test_no_blank_lines(raw_lines):
    text = QUESTIONS_PATH.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert len(text.splitlines()) == len(raw_lines), "blank lines in questions.jsonl"


def test_every_line_parses_with_exact_keys_and_types(raw_lines):
    problems = []
    for n, line in raw_lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {n}: not an object")
            continue
        if set(obj) != EXPECTED_KEYS:
            problems.append(f"line {n}: keys {sorted(obj)}")
            continue
        if not (isinstance(obj["id"], str) and re.fullmatch(r"q\d{3,}", obj["id"])):
            problems.append(f"line {n}: bad id {obj['id']!r}")
        if not (isinstance(obj["question"], str) and obj["question"].strip()):
            problems.append(f"line {n}: question must be a non-empty string")
        if not (
            isinstance(obj["gold_spans"], list)
            and all(isinstance(s, str) and s for s in obj["gold_spans"])
        ):
            problems.append(f"line {n}: gold_spans must be a list of non-empty strings")
        if not (obj["reference_key"] is None or isinstance(obj["reference_key"], str)):
            problems.append(f"line {n}: reference_key must be str or null")
        if not (
            isinstance(obj["tags"], list)
            and obj["tags"]
            and all(isinstance(t, str) for t in obj["tags"])
        ):
            problems.append(f"line {n}: tags must be a non-empty list of strings")
        if obj["split"] not in SPLITS:
            problems.append(f"line {n}: split {obj['split']!r}")
        if not isinstance(obj["answerable"], bool):
            problems.append(f"line {n}: answerable must be a bool")
    assert not problems, "\n".join(problems)


def test_ids_unique(items):
    counts = Counter(item["id"] for item in items)
    dupes = [i for i, c in counts.items() if c > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_questions_unique(items):
    counts = Counter(item["question"].strip().lower() for item in items)
    dupes = [q for q, c in counts.items() if c > 1]
    assert not dupes, f"duplicate questions: {dupes}"


def test_minimum_size(items):
    assert len(items) >= MIN_QUESTIONS


def test_minimum_unanswerable(items):
    assert sum(1 for item in items if not item["answerable"]) >= MIN_UNANSWERABLE


def test_unanswerable_have_no_spans_and_null_reference(items):
    bad = [
        item["id"]
        for item in items
        if not item["answerable"] and (item["gold_spans"] or item["reference_key"] is not None)
    ]
    assert not bad, f"unanswerable items with spans or a reference: {bad}"


def test_answerable_have_spans(items):
    bad = [item["id"] for item in items if item["answerable"] and not item["gold_spans"]]
    assert not bad, f"answerable items without gold spans: {bad}"


def test_unanswerable_tag_matches_flag(items):
    bad = [item["id"] for item in items if ("unanswerable" in item["tags"]) == item["answerable"]]
    assert not bad, f"'unanswerable' tag disagrees with answerable flag: {bad}"


def test_gold_spans_are_verbatim_substrings(items, corpus):
    missing = [
        (item["id"], span) for item in items for span in item["gold_spans"] if span not in corpus
    ]
    assert not missing, "spans not found verbatim in the corpus:\n" + "\n".join(
        f"{qid}: {span!r}" for qid, span in missing
    )


def test_reference_keys_exist(items, reference_keys):
    bad = [
        (item["id"], item["reference_key"])
        for item in items
        if item["reference_key"] is not None and item["reference_key"] not in reference_keys
    ]
    assert not bad, f"unknown reference keys: {bad}"


def test_questions_not_lifted_from_corpus(items, corpus):
    corpus_ngrams = ngrams(tokens(corpus))
    lifted = []
    for item in items:
        shared = ngrams(tokens(item["question"])) & corpus_ngrams
        if shared:
            lifted.append(f"{item['id']}: {' '.join(sorted(shared)[0])!r}")
    assert not lifted, (
        f"questions sharing a run of >= {NGRAM} words with the corpus:\n" + "\n".join(lifted)
    )


def test_both_splits_present_and_balanced(items):
    alternating = [item for item in items if not batch_tags(item)]  # batches: outside it
    counts = Counter(item["split"] for item in alternating)
    assert set(counts) == SPLITS
    for split, n in counts.items():
        share = n / len(alternating)
        assert 0.40 <= share <= 0.60, f"{split} holds {share:.0%} of the items"


def test_tags_from_vocabulary(items):
    bad = [
        (item["id"], tag)
        for item in items
        for tag in item["tags"]
        if tag not in TAG_VOCABULARY and not BATCH_TAG.fullmatch(tag)
    ]
    assert not bad, f"tags outside the vocabulary: {bad}"


def test_batch_items_follow_the_protocol(items):
    problems = []
    batches = Counter()
    splits: dict[str, set[str]] = defaultdict(set)
    for item in items:
        tags = batch_tags(item)
        if not tags:
            continue
        if len(tags) > 1:
            problems.append(f"{item['id']}: in more than one batch {tags}")
        if item["tags"][0] in tags:
            problems.append(f"{item['id']}: a batch tag is never the primary (first) tag")
        try:
            date.fromisoformat(BATCH_TAG.fullmatch(tags[0]).group(1))
        except ValueError:
            problems.append(f"{item['id']}: {tags[0]} is not a calendar date")
        batches[tags[0]] += 1
        splits[tags[0]].add(item["split"])
    problems += [
        f"{tag}: {n} items, a batch holds at least {MIN_BATCH}"
        for tag, n in batches.items()
        if n < MIN_BATCH
    ]
    problems += [f"{tag}: split across {sorted(s)}" for tag, s in splits.items() if len(s) > 1]
    # a batch is held out in `test` until it is retired to `dev` for fitting, oldest first: every
    # retired batch is older than every held-out one, and the newest is always held out
    order = sorted(splits)
    kinds = ["dev" if splits[tag] == {"dev"} else "test" for tag in order]
    if kinds != sorted(kinds):
        problems.append(f"a retired (dev) batch is newer than a held-out one: {order}")
    if kinds and kinds[-1] != "test":
        problems.append(f"the newest batch {order[-1]} is not held out in test")
    assert not problems, "\n".join(problems)


def test_no_duplicate_tags_within_item(items):
    bad = [item["id"] for item in items if len(set(item["tags"])) != len(item["tags"])]
    assert not bad, f"items repeating a tag: {bad}"
