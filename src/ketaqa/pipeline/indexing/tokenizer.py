"""A tokenizer for clinical text, shared by BM25 indexing and queries.

- case folding and Unicode normalisation; footnote superscripts dropped;
- doses and units kept: "0.5", "mg/kg", "mg/kg/h", and "80mg" for "80 mg" or "80mg";
- hyphenated terms matched both ways: "pre-emptive" -> "pre", "emptive", "preemptive";
- British and American spellings unified (paediatric/pediatric, anaesthesia/anesthesia, …);
- abbreviations matched with their expansions, both those the corpus defines itself
  ("post herpetic neuralgia (PHN)") and a short list of clinical ones it uses undefined;
- Snowball stemming (PyStemmer).

Normalisation is applied identically to documents and questions, so an over-eager spelling
rule costs nothing: both sides change the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import Stemmer

TOKENIZER_VERSION = "clinical-v2"

STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has
    have having he her here hers him his how i if in into is it its itself me my of on or our
    ours she should so than that the their theirs them then there these they this those to too
    was we were what when where which while who whom why will with would you your yours about
    any some such there's what's does anything tell say says said""".split()
)

# Clinical abbreviations the statement uses without defining them (or defines only elsewhere).
CLINICAL_ABBREVIATIONS = {
    "sci": "spinal cord injury",
    "oih": "opioid induced hyperalgesia",
    "crps": "complex regional pain syndrome",
    "phn": "post herpetic neuralgia",
    "plp": "phantom limb pain",
    "cncp": "chronic non cancer pain",
    "rct": "randomized controlled trial",
    "rcts": "randomized controlled trials",
    "nmda": "n methyl d aspartate",
    "iv": "intravenous",
    "sc": "subcutaneous",
    "ae": "adverse event",
    "aes": "adverse events",
    "sae": "serious adverse event",
    "icu": "intensive care unit",
    "ed": "emergency department",
    "vas": "visual analogue scale",
    "nrs": "numeric rating scale",
    "tmj": "temporomandibular joint",
    "cns": "central nervous system",
    "sr": "systematic review",
    "ptsd": "post traumatic stress disorder",
}

# Upper-case abbreviations that would otherwise fold into a stopword ("WHO" -> "who").
CASE_SENSITIVE_ABBREVIATIONS = {"WHO": "World Health Organization"}
_CASE_SENSITIVE_RE = re.compile(r"\b(" + "|".join(CASE_SENSITIVE_ABBREVIATIONS) + r")\b")


def _expand_case_sensitive(m: re.Match[str]) -> str:
    return CASE_SENSITIVE_ABBREVIATIONS[m.group(1)]


UNITS = r"(?:mg|mcg|µg|ug|g|kg|ml|h|hr|hrs|hour|hours|d|day|min|mins|minutes|s)"
_DOSE_RE = re.compile(rf"^(\d+(?:\.\d+)?)({UNITS}(?:/{UNITS})*)$")
_UNIT_RE = re.compile(rf"^{UNITS}(?:/{UNITS})+$")
_CHUNK_RE = re.compile(r"[a-z0-9µα-ω]+(?:[./\-'][a-z0-9µα-ω]+)*")
_NUMBER_RE = re.compile(r"^\d+(?:\.\d+)?$")

_SPELLING_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"paed"), "ped"),  # paediatric, orthopaedic
    (re.compile(r"aesth"), "esth"),  # anaesthesia, subanaesthetic
    (re.compile(r"aem"), "em"),  # ischaemia, haemorrhage, anaemia, leukaemia
    (re.compile(r"^oe(de|so)"), r"e\1"),  # oedema, oesophagus
    (re.compile(r"^foet"), "fet"),
    (re.compile(r"(?<=[a-z]{3})is(e|ed|es|ing|ation|ations)$"), r"iz\1"),
    (re.compile(r"(?<=[a-z]{2})ys(e|ed|es|ing)$"), r"yz\1"),
    (re.compile(r"(?<=[a-z]{2}[^aeiou])our(s|ed|ing|able)?$"), r"or\1"),  # tumour, favour
    (re.compile(r"(?<=[a-z]{3})tre(s)?$"), r"ter\1"),  # centre, litre
    (re.compile(r"ogue(s)?$"), r"og\1"),
    (re.compile(r"^analgaes"), "analges"),
)
_OUR_KEEP = frozenset({"four", "hour", "hours", "your", "yours", "pour", "tour", "flour", "sour"})

_SUPERSCRIPTS = dict.fromkeys(map(ord, "¹²³⁴⁵⁶⁷⁸⁹⁰"), " ")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—−"), "-")


def normalise_spelling(word: str) -> str:
    if word in _OUR_KEEP:
        return word
    for pattern, repl in _SPELLING_RULES:
        word = pattern.sub(repl, word)
    return word


def _unit(unit: str) -> str:
    parts = [
        {
            "hr": "h",
            "hrs": "h",
            "hour": "h",
            "hours": "h",
            "day": "d",
            "mins": "min",
            "minutes": "min",
            "µg": "mcg",
            "ug": "mcg",
        }.get(u, u)
        for u in unit.split("/")
    ]
    return "/".join(parts)


def clean(text: str) -> str:
    text = text.translate(_SUPERSCRIPTS)
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).lower()
    return text.replace("’", "'")


def raw_words(text: str) -> list[str]:
    """Lower-cased words, hyphens split, before stemming: used to learn abbreviations."""
    return re.findall(r"[a-z0-9]+", clean(text))


@dataclass
class ClinicalTokenizer:
    """Text -> list of index terms. Abbreviation expansions are passed in, not global."""

    abbreviations: dict[str, str] = field(default_factory=lambda: dict(CLINICAL_ABBREVIATIONS))

    def __post_init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._stems: dict[str, str] = {}
        # expansion word sequences -> abbreviation, longest first
        phrases = sorted(
            ((tuple(raw_words(exp)), abbr) for abbr, exp in self.abbreviations.items()),
            key=lambda p: -len(p[0]),
        )
        # the same list by first word (longest first within), so a word tries only the phrases
        # that can start with it: tokenising the corpus at load took about 0.1 s without this
        self._phrases_from: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, abbr in phrases:
            if phrase:
                self._phrases_from.setdefault(phrase[0], []).append((phrase, abbr))

    @property
    def version(self) -> str:
        abbrs = ",".join(f"{k}={v}" for k, v in sorted(self.abbreviations.items()))
        return f"{TOKENIZER_VERSION}:{abbrs}"

    def tokenize(self, text: str, *, drop_stopwords: bool = True) -> list[str]:
        words = self._words(clean(_CASE_SENSITIVE_RE.sub(_expand_case_sensitive, text)))
        words = self._with_abbreviations(words)
        out = []
        for w in words:
            if drop_stopwords and w in STOPWORDS:
                continue
            out.append(self._stem(w))
        return out

    def _stem(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            if any(c.isdigit() for c in word) or "/" in word:
                stem = word
            else:
                stem = self._stemmer.stemWord(normalise_spelling(word))
            if len(self._stems) < 200_000:
                self._stems[word] = stem
        return stem

    def _words(self, text: str) -> list[str]:
        out: list[str] = []
        for chunk in _CHUNK_RE.findall(text):
            out.extend(self._split_chunk(chunk))
        # "80 mg" -> also "80mg", so spaced and unspaced doses match
        combined = []
        for i, w in enumerate(out):
            combined.append(w)
            if _NUMBER_RE.match(w) and i + 1 < len(out) and re.match(rf"^{UNITS}(/|$)", out[i + 1]):
                combined.append(w + _unit(out[i + 1]))
        return combined

    def _split_chunk(self, chunk: str) -> list[str]:
        chunk = chunk.strip(".'")
        if not chunk:
            return []
        if _NUMBER_RE.match(chunk):
            return [chunk]
        m = _DOSE_RE.match(chunk)
        if m:  # "0.5mg/kg/hr"
            return [m.group(1), _unit(m.group(2))]  # `_words` adds "0.5mg/kg/h"
        if _UNIT_RE.match(chunk):  # "mg/kg"
            return [_unit(chunk)]
        if "-" in chunk:
            parts = [p for p in chunk.split("-") if p]
            if all(p.isalpha() for p in parts):
                return ["".join(parts), *parts]  # both ways: "preemptive", "pre", "emptive"
            return [p for part in parts for p in self._split_chunk(part)]
        if "/" in chunk or ("." in chunk and not re.match(r"^\d", chunk)):
            parts = re.split(r"[./]", chunk)
            return [p for part in parts for p in self._split_chunk(part)]
        if "'" in chunk:
            return [chunk.split("'")[0]]
        m = re.match(r"^(\d+(?:\.\d+)?)([a-z]+)$", chunk)
        if m:  # "6800mg", "48h": `_words` joins them again when the tail is a unit
            return [m.group(1), m.group(2)]
        return [chunk]

    def _with_abbreviations(self, words: list[str]) -> list[str]:
        """Add the abbreviation after its expansion, and the expansion after the abbreviation."""
        out: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            out.append(w)
            if w in self.abbreviations:
                out.extend(raw_words(self.abbreviations[w]))
            for phrase, abbr in self._phrases_from.get(w, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    out.extend(words[i + 1 : i + len(phrase)])
                    out.append(abbr)
                    i += len(phrase) - 1
                    break
            i += 1
        return out


_DEFINITION_RE = re.compile(r"((?:[A-Za-z][A-Za-z\-]*\s+){1,6}?)\(([A-Z][A-Za-z0-9\-]{1,9})\)")


def learn_abbreviations(texts: Iterable[str]) -> dict[str, str]:
    """Find "long form (ABBR)" definitions whose initials spell the abbreviation."""
    found: dict[str, str] = {}
    for text in texts:
        for m in _DEFINITION_RE.finditer(text):
            abbr = m.group(2)
            letters = [c.lower() for c in abbr if c.isalpha()]
            words = raw_words(m.group(1))
            if not letters or len(letters) > len(words):
                continue
            # take the shortest tail of the preceding words whose initials match the letters
            for n in range(len(letters), len(words) + 1):
                tail = words[-n:]
                initials = "".join(w[0] for w in tail)
                if _initials_match(initials, "".join(letters)):
                    found.setdefault(abbr.lower(), " ".join(tail))
                    break
    return found


def _initials_match(initials: str, letters: str) -> bool:
    """Letters appear in order among the initials, first letter first."""
    if not initials or initials[0] != letters[0]:
        return False
    it = iter(initials)
    return all(c in it for c in letters)


def build_tokenizer(texts: Iterable[str]) -> ClinicalTokenizer:
    abbreviations = dict(CLINICAL_ABBREVIATIONS)
    abbreviations.update(learn_abbreviations(texts))
    return ClinicalTokenizer(abbreviations)
