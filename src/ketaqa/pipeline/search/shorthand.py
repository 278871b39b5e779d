"""Shorthand a clinician types for words the statement uses: read from the statement itself.

A lexicon lists the shorthand someone has seen ("paeds", "AEs"); the next clinician types
"wkly", "midaz", "RRs" or "breakthru". Three rules, each a standard reading of shorthand and
checked against the statement's own words rather than a list:

- a *swapped pair of letters* of a statement word ("trails" for "trials"): the commonest slip
  in typing, and one that lands on real words a speller leaves alone;
- an *abbreviation*: the token's letters in order inside one statement word that begins with
  the same letter ("wkly" weekly, "inhib" inhibition, "breakthru" breakthrough). A common
  English word is never read this way: it means itself ("foot" is not "footnote");
- an *acronym*: the initials of consecutive statement words ("CPM" conditioned pain
  modulation, "RRs" relative risks, "MA" meta-analysis). Two-letter acronyms are ambiguous,
  so they are read only as the parts of one hyphenated word;
- a *slip onto a real word*, read in context: one letter added, dropped or changed gives a
  statement word that the statement itself writes beside the token's neighbour ("phantom lime
  pain": the statement says "phantom limb"; "infusion rats": "infusion rates"). The neighbour
  is what a speller cannot see, and what tells a slip from a word meant as typed;
- a *truncation* of a common word, read in context: the token begins a longer statement word
  that stands in a passage sharing a rare word with the question ("neuro excitability",
  "retro studies" in Maher's review). Without that support a common word means itself.

A token read none of these ways, short and rare in English ("medd"), is *unrecognised*: shown
as such and not counted as a concept the statement lacks. A long rare word ("nortriptyline",
"esketamine") is a name, and stays a missing concept.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

COMMON_ZIPF = 3.0  # at or above: an ordinary English word ("doc" 4.4, "trails" 3.9)
SHORT_TOKEN = 6  # at most this many letters, rare and unread: shorthand, not a name
# An acronym's phrase must stand in a line sharing a rare word with the question: one standing
# in at most five distinct lines weighs 0.2 ("descending" for "CPM"; "ketamine" weighs ~0.01).
CONTEXT_SUPPORT = 0.2
_WORD_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class Reading:
    """What a typed token was read as, and by which rule."""

    typed: str
    words: tuple[str, ...]  # the statement's words it stands for
    rule: str  # "transposition", "abbreviation", "acronym", "slip" or "truncation"


def _add_runs(
    found: list[str],
    line_words: frozenset[str],
    stopwords: frozenset[str],
    initials: dict[str, Counter[str]],
    context: dict[str, list[frozenset[str]]],
) -> None:
    """Each run of two to four words of a line under its initials, with the line's words."""

    def add(run: list[str]) -> None:
        phrase = " ".join(run)
        initials.setdefault("".join(w[0] for w in run), Counter())[phrase] += 1
        context.setdefault(phrase, []).append(line_words)

    plain = [w for w in found if w.isalpha() and w not in stopwords]
    for n in (3, 4):
        for i in range(len(plain) - n + 1):
            add(plain[i : i + n])
    for i in range(len(found) - 1):  # two words, as typed (hyphens split)
        run = found[i : i + 2]
        if all(w.isalpha() and w not in stopwords for w in run):
            add(run)


_CASED_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_CLAUSE_RE = re.compile(r"[.,;:()\[\]*]")


def _capitalised_runs(line: str, stopwords: frozenset[str]) -> list[list[str]]:
    """The runs of capitalised words in a line, lower-cased, a stopword between two of them
    kept out but not breaking the run ("Expert Committee on Drug Dependence" is one run), and
    punctuation breaking it ("Organization. Ketamine" is two)."""
    runs: list[list[str]] = []
    for clause in _CLAUSE_RE.split(line):
        runs.append([])
        for word in _CASED_WORD_RE.findall(clause):
            if word[0].isupper():
                runs[-1].append(word.lower())
            elif not (word.lower() in stopwords and runs[-1]):
                runs.append([])
    return [run for run in runs if len(run) >= 2]


def _is_subsequence(token: str, word: str) -> bool:
    it = iter(word)
    return all(c in it for c in token)


def _one_edit(token: str) -> set[str]:
    """Every string one deletion, substitution or insertion away (swaps are their own rule)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = set()
    for i in range(len(token) + 1):
        head, tail = token[:i], token[i:]
        if tail:
            out.add(head + tail[1:])
            out.update(head + c + tail[1:] for c in letters if c != tail[0])
        out.update(head + c + tail for c in letters)
    out.discard(token)
    return out


def one_edit_apart(a: str, b: str) -> bool:
    """Whether one deletion, substitution or insertion turns `a` into `b`."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def _transpositions(token: str) -> Iterable[str]:
    for i in range(len(token) - 1):
        if token[i] != token[i + 1]:
            yield token[:i] + token[i + 1] + token[i] + token[i + 2 :]


class ShorthandReader:
    """Built once per corpus from its texts; `read` a token the corpus never uses."""

    def __init__(
        self,
        texts: Iterable[str],
        stopwords: frozenset[str],
        word_frequency: Callable[[str], float],
        entry_texts: Iterable[str] = (),
    ):
        """`texts`: what the statement says; `entry_texts`: its bibliography entries, read
        for acronyms of names only: an acronym may stand for a committee or a journal that
        only an entry names ("ECDD", the WHO Expert Committee on Drug Dependence; "EJP"), a
        run of capitalised words. A title's ordinary words ("after pediatric scoliosis") are
        no acronym's, and no entry word is an abbreviation, slip or truncation."""
        self.stopwords = stopwords
        self.zipf = word_frequency
        words: Counter[str] = Counter()
        initials: dict[str, Counter[str]] = {}
        context: dict[str, list[frozenset[str]]] = {}  # phrase -> words of each line it is in
        texts = list(texts)
        lines = dict.fromkeys(line for text in texts for line in text.lower().splitlines())
        line_df: Counter[str] = Counter()  # in how many distinct lines each word stands
        # word -> the words of each text (passage) it stands in, and in how many texts each
        # word stands: a truncation is read in its passage, whose heading names the study
        word_texts: dict[str, list[frozenset[str]]] = {}
        text_df: Counter[str] = Counter()
        for text in dict.fromkeys(texts):
            text_words = frozenset(_WORD_RE.findall(text.lower().replace("-", " ")))
            text_df.update(text_words)
            for w in text_words:
                word_texts.setdefault(w, []).append(text_words)
        bigrams: set[tuple[str, str]] = set()  # two words the statement writes side by side
        for line in lines:  # each distinct line once: a heading repeated per passage is one
            found = _WORD_RE.findall(line)
            split = [p for w in found for p in w.split("-")]
            line_words = frozenset(split)
            line_df.update(line_words)
            bigrams.update(zip(split, split[1:], strict=False))
            for w in found:
                words.update(w.split("-"))
                parts = w.split("-")
                if len(parts) == 2 and all(p.isalpha() for p in parts):
                    initials.setdefault("".join(p[0] for p in parts), Counter())[w] += 1
                    context.setdefault(w, []).append(line_words)
            _add_runs(found, line_words, stopwords, initials, context)
        entry_lines = dict.fromkeys(line for text in entry_texts for line in text.splitlines())
        for line in entry_lines:
            if line.lower() in lines:
                continue
            line_words = frozenset(p for w in _WORD_RE.findall(line.lower()) for p in w.split("-"))
            line_df.update(line_words)
            for name in _capitalised_runs(line, stopwords):
                _add_runs(name, line_words, stopwords, initials, context)
        self.words = {w: n for w, n in words.items() if w.isalpha() and len(w) > 2}
        self._by_initial: dict[str, list[str]] = {}
        for w in sorted(self.words, key=lambda w: (-self.words[w], w)):
            if w not in stopwords:
                self._by_initial.setdefault(w[0], []).append(w)
        self._initials = initials
        self._context = context
        self._line_df = line_df
        self._word_texts = word_texts
        self._text_df = text_df
        self._bigrams = bigrams

    def read(self, token: str, typed: str, question: Iterable[str] = ()) -> Reading | None:
        """`token` (lower case, not a statement word) read as statement words, or None.

        `typed` is the token as typed: capitals mark an acronym; `question` the question's
        other words, which choose between phrases with the same initials."""
        if not token.isalpha() or len(token) < 2:
            return None
        for swapped in _transpositions(token):
            if swapped in self.words and len(token) >= 4:
                return Reading(typed, (swapped,), "transposition")
        acronym = self._acronym(token, typed, frozenset(question))
        if acronym:
            return Reading(typed, (acronym,), "acronym")
        if len(token) < 3 or sum(c.isupper() for c in typed) >= 2:
            return None  # "IVIs" is an acronym or nothing, never letters of one word
        words = list(question)
        slip = self._slip(token, words)
        if slip:
            return Reading(typed, (slip,), "slip")
        if self.zipf(token) >= COMMON_ZIPF:
            # a common word means itself ("foot" is not "footnote") unless the question's
            # other words find it cut short of a statement word
            cut = self._truncation(token, frozenset(words))
            return Reading(typed, (cut,), "truncation") if cut else None
        candidates = [
            w
            for w in self._by_initial.get(token[0], ())
            if len(w) >= len(token) + 2 and _is_subsequence(token, w)
        ]
        if not candidates:
            return None
        prefixed = [w for w in candidates if w.startswith(token)]  # "conc": concentrations
        return Reading(typed, tuple((prefixed or candidates)[:2]), "abbreviation")

    def _slip(self, token: str, question: list[str]) -> str | None:
        """The one statement word a letter away that the statement writes beside one of the
        token's neighbours in the question; None when none or several do."""
        if len(token) < 4:
            return None
        neighbours = {
            question[j]
            for i, w in enumerate(question)
            if w == token
            for j in (i - 1, i + 1)
            if 0 <= j < len(question) and question[j] not in self.stopwords
        }
        fits = {
            w
            for w in _one_edit(token)
            if w in self.words
            and any((n, w) in self._bigrams or (w, n) in self._bigrams for n in neighbours)
        }
        return fits.pop() if len(fits) == 1 else None

    def _truncation(self, token: str, question: frozenset[str]) -> str | None:
        """The statement word `token` begins, best supported by a passage sharing rare words
        with the question (at least `CONTEXT_SUPPORT`); None when no passage agrees."""
        if len(token) < 4:
            return None
        best, support = None, CONTEXT_SUPPORT
        others = question - {token} - self.stopwords
        for w in self._by_initial.get(token[0], ()):
            if not w.startswith(token) or len(w) < len(token) + 2:
                continue
            fit = max(
                (sum(1 / self._text_df[q] for q in others & text) for text in self._word_texts[w]),
                default=0.0,
            )
            if fit >= support and (best is None or fit > support):
                best, support = w, fit
        return best

    def _acronym(self, token: str, typed: str, question: frozenset[str]) -> str | None:
        base = token[:-1] if typed.endswith("s") and len(token) >= 3 else token
        capitals = sum(c.isupper() for c in typed)
        if capitals < 2 or not 2 <= len(base) <= 4:
            return None
        found = self._initials.get(base)
        if not found:
            return None
        if len(base) == 2:
            # two letters are ambiguous: only a hyphenated compound ("MA" meta-analysis), or a
            # plural typed as one ("RRs" relative risks)
            plural = typed.endswith("s") and typed[-1].islower()
            found = Counter(
                {p: n for p, n in found.items() if "-" in p or (plural and p.endswith("s"))}
            )
            if not found:
                return None

        # the phrase standing in the line that shares the rarest words with the question
        # (each weighs one over the number of lines it stands in: "descending" beats
        # "ketamine"), then the commonest phrase
        def overlap(line: frozenset[str]) -> float:
            return sum(1 / self._line_df[w] for w in question & line - self.stopwords)

        def fit(phrase: str) -> tuple[float, int]:
            best = max((overlap(line) for line in self._context.get(phrase, ())), default=0.0)
            return round(best, 9), found[phrase]

        ranked = sorted(found, key=fit, reverse=True)
        if len(ranked) > 1 and fit(ranked[0]) == fit(ranked[1]):
            return None  # two phrases as likely: do not guess
        if "-" not in ranked[0] and fit(ranked[0])[0] < CONTEXT_SUPPORT:
            return None  # initials alone fit many runs of words ("OSA"): the line must agree
        return ranked[0]

    def unrecognised(self, token: str) -> bool:
        """A short token, rare in English, that no rule reads: shorthand nobody can expand."""
        return token.isalpha() and len(token) <= SHORT_TOKEN and self.zipf(token) < COMMON_ZIPF
