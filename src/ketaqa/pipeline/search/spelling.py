"""Spelling fixes for a typed question, against the statement's words and the lexicon's.

Two readings, each the question reader's first step (`QueryReader.read`):

- a *slip inside a lexicon phrase*: a word one letter from a lexicon phrase's word, typed beside
  that phrase's other word, is that word ("hart failure" is heart failure, "side affects" side
  effects), though a speller leaves a real word alone; the neighbour tells the slip from the
  word meant as typed ("white hart"). The statement's own word pairs are read the same way, for
  a word the statement never uses: "infusion rat" is "infusion rate", as the statement writes
  "infusion rate"; a slip keeps the word's first two letters there, as the corpus's pairs are
  many. A word that sounds like the statement's (the same Metaphone key, jellyfish's) and is
  at most two letters from it counts as a slip there too: "back pane" is "back pain", as "back
  pain" is in the statement;
- a *typo*: a word that is in neither the corpus, the lexicon nor general English is fixed to
  the closest corpus word (symspellpy), but a word general English knows is fixed only to a word
  that starts as it does: a typo keeps a word's first letters, so "atrial" is not "trial".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from functools import cached_property, lru_cache

from jellyfish import levenshtein_distance, metaphone

from ketaqa.pipeline.indexing.tokenizer import STOPWORDS, raw_words
from ketaqa.pipeline.search.shorthand import one_edit_apart

# A word at least this common in English (Zipf, about one in ten million words) is a word
# general English knows: the speller may fix it only to a word that starts as it does.
KNOWN_WORD_ZIPF = 2.0

Corrections = list[tuple[str, str]]  # (typed, fixed), in the order found


def sounds_alike(typed: str, word: str) -> bool:
    """Whether two words sound alike (the same Metaphone key) and are spelt alike (at most two
    letters changed): a slip of the ear or of a phone keyboard ("pane" for "pain", "cousens"
    for "cousins"), not another word with the same consonants ("spares", "sprays")."""
    return metaphone(typed) == metaphone(word) and levenshtein_distance(typed, word) <= 2


@lru_cache(maxsize=4096)
def phrase_re(phrase: str) -> re.Pattern[str]:
    """`phrase` as whole words."""
    return re.compile(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])")


def corrected(text: str, corrections: Corrections) -> str:
    """`text` (cleaned) with each typed word replaced by its spelling fix."""
    for typed, fixed in corrections:
        text = phrase_re(typed).sub(fixed, text)
    return text


class Speller:
    """Fixes a question's words against one corpus and one lexicon (see the module)."""

    def __init__(
        self,
        lexicon_phrases: Iterable[str],
        corpus_counts: dict[str, int],
        general_words: frozenset[str],
        word_frequency: Callable[[str], float],
        corpus_texts: Iterable[str] = (),
    ):
        phrases = tuple(lexicon_phrases)
        self._corpus_texts = tuple(corpus_texts)
        self.lexicon_words = frozenset(w for t in phrases for w in raw_words(t) if w.isalpha())
        self.corpus_words = frozenset(corpus_counts)
        self.general_words = general_words
        self._word_frequency = word_frequency
        # each word of a lexicon phrase, and the words beside it there ("failure": heart)
        self._phrase_neighbours: dict[str, set[str]] = {}
        for phrase in phrases:
            for a, b in itertools.pairwise(raw_words(phrase)):
                self._phrase_neighbours.setdefault(a, set()).add(b)
                self._phrase_neighbours.setdefault(b, set()).add(a)
        vocabulary = dict.fromkeys(self.lexicon_words, 1)
        vocabulary.update((w, n) for w, n in corpus_counts.items() if w.isalpha())
        self._vocabulary = tuple(sorted(vocabulary.items()))  # the speller's, built when needed

    def corrections(self, text: str) -> Corrections:
        """Fix slips onto real words inside a lexicon phrase (`_slips`), then words that are
        in neither the corpus, the lexicon nor general English."""
        words = raw_words(text)
        fixes = self._slips(words)
        slipped = {typed for typed, _ in fixes}
        for word in dict.fromkeys(words):
            if (
                word in slipped
                or len(word) < 5
                or not word.isalpha()
                or word in self.lexicon_words
                or word in self.corpus_words
                or word in self.general_words
                or word in STOPWORDS
            ):
                continue
            fix = self._spell(word)
            if fix and fix != word and self._may_become(word, fix):
                fixes.append((word, fix))
        return fixes

    def _slips(self, words: list[str]) -> Corrections:
        """Words one letter from a lexicon phrase's word, typed beside that phrase's other
        word: "hart failure" is "heart failure", though "hart" is a word a speller leaves
        alone. The neighbour tells the slip from the word meant as typed ("white hart")."""
        fixes: dict[str, str] = {}
        for i, word in enumerate(words):
            if (
                len(word) < 3
                or not word.isalpha()
                or word in self.lexicon_words
                or word in self.corpus_words  # the statement's own word means itself
            ):
                continue
            neighbours = [
                words[j]
                for j in (i - 1, i + 1)
                if 0 <= j < len(words) and words[j] not in STOPWORDS
            ]
            beside = set().union(*(self._phrase_neighbours.get(n, ()) for n in neighbours))
            fits = {w for w in beside if w not in STOPWORDS and one_edit_apart(word, w)}
            if len(word) < 4:
                fits = set()  # a lexicon phrase's slip is four letters or more
            if not fits and neighbours:
                paired = set().union(*(self._corpus_neighbours.get(n, ()) for n in neighbours))
                fits = {
                    w
                    for w in paired
                    if len(w) >= 4
                    and w[:2] == word[:2]
                    and (one_edit_apart(word, w) or sounds_alike(word, w))
                }
            if len(fits) == 1:
                fixes.setdefault(word, fits.pop())
        return list(fixes.items())

    @cached_property
    def _corpus_neighbours(self) -> dict[str, set[str]]:
        """Each word of the statement and the words beside it there ("infusion": rate), made
        when a question first has a word the statement never uses."""
        neighbours: dict[str, set[str]] = {}
        for text in self._corpus_texts:
            words = [w for w in raw_words(text) if w not in STOPWORDS]
            for a, b in itertools.pairwise(words):
                if a.isalpha() and b.isalpha():
                    neighbours.setdefault(a, set()).add(b)
                    neighbours.setdefault(b, set()).add(a)
        return neighbours

    def _may_become(self, word: str, fix: str) -> bool:
        """Whether a typed word may be read as the speller's fix. A typo keeps a word's first
        letters (the spellers' usual assumption); a word general English knows whose nearest
        corpus word starts otherwise is another word, not a typo of it: "atrial" is not
        "trial", "voiding" not "avoiding", "remission" not "permission"."""
        return fix[:2] == word[:2] or self._word_frequency(word) < KNOWN_WORD_ZIPF

    @cached_property
    def _spell(self) -> Callable[[str], str | None]:
        """The speller, built on the first word that needs it (about 0.1 s): most questions
        have none, and a cold `ketaqa ask` should not pay for it."""
        return _speller(self._vocabulary)


@lru_cache(maxsize=4)
def _speller(vocabulary: tuple[tuple[str, int], ...]):
    """A SymSpell lookup over the corpus's words: typo -> the closest corpus word, or None."""
    from symspellpy import SymSpell, Verbosity

    sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    for word, count in vocabulary:
        if len(word) >= 3:
            sym.create_dictionary_entry(word, count)

    def correct(word: str) -> str | None:
        distance = 1 if len(word) < 9 else 2  # "weaning" must not become "hearing"
        found = sym.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        if not found:
            return None
        best = [s for s in found if s.distance == found[0].distance]
        best.sort(key=lambda s: -s.count)
        if len(best) > 1 and best[0].count == best[1].count:
            return None  # ambiguous: leave the word as typed
        return best[0].term

    return correct
