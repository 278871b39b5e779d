"""The one facade the front ends share: validate a question, read it once, retrieve, answer.

`ketaqa ask`, the JSON API, the Gradio app and `ketaqa eval` all go through `Assistant.ask`,
which returns one `AnswerView` (`view.py`); they only render it, so the numbers the evaluation
reports are the answers users see.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ketaqa.config import MAX_QUESTION_CHARS, MAX_TOP_K, Settings
from ketaqa.errors import InputError
from ketaqa.pipeline.answering.answer import SIGNAL_DEPTH, Answer, Answerer, RankedPassage
from ketaqa.pipeline.answering.source_evidence import SourceEvidenceFinder
from ketaqa.pipeline.answering.verdict import VerdictModel
from ketaqa.pipeline.answering.view import AnswerView, view_answer
from ketaqa.pipeline.documents.outline import BlockKind
from ketaqa.pipeline.documents.passages import listed_only_authors
from ketaqa.pipeline.indexing.drugs import DrugNames
from ketaqa.pipeline.indexing.embedding import Encoder, TextEncoder, general_vocabulary
from ketaqa.pipeline.indexing.english import EnglishFrequency
from ketaqa.pipeline.indexing.index import Index, index_status
from ketaqa.pipeline.indexing.kept_vectors import encode_fixed, nearest_fixed
from ketaqa.pipeline.search.backends import open_search
from ketaqa.pipeline.search.populations import MEANING_SIMILARITY
from ketaqa.pipeline.search.query import QueryReader
from ketaqa.pipeline.search.reading import QueryAnalysis
from ketaqa.pipeline.search.retrieve import Hit, HybridRetriever, Method, Retriever
from ketaqa.progress import Progress, quiet
from ketaqa.text import has_control_characters


def validate_question(question: object) -> str:
    """A usable question, or InputError saying why not."""
    if not isinstance(question, str):
        raise InputError("the question must be text")
    if has_control_characters(question):
        raise InputError("the question contains control or binary characters; type plain text")
    question = " ".join(question.split())
    if not question:
        raise InputError("the question is empty; type a question about the statement")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    if not any(c.isalnum() for c in question):
        raise InputError("the question has no words in it")
    return question


def validate_top_k(top_k: object) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise InputError("top-k must be a whole number")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"top-k must be between 1 and {MAX_TOP_K}, not {top_k}")
    return top_k


@dataclass(frozen=True)
class Filters:
    """Optional restrictions from the app: by source kind and by top-level section."""

    sources: tuple[str, ...] = ()  # e.g. ("statement",) or ("abstract",)
    section: str | None = None  # a top-level section name, e.g. "Section I"

    def allows(self, rp: RankedPassage) -> bool:
        p = rp.passage
        if self.sources and p.source not in self.sources:
            return False
        return not (self.section and (not p.section.parts or p.section.parts[0] != self.section))


@dataclass
class Assistant:
    settings: Settings
    encoder: TextEncoder
    index: Index
    retriever: Retriever | None = None  # None: the local one over `index`
    answerer: Answerer = field(init=False)
    reader: QueryReader = field(init=False)
    sources: SourceEvidenceFinder = field(init=False)  # once per index
    _phrases: list[tuple[str, tuple[str, ...]]] = field(init=False, default_factory=list)
    _phrase_vectors: np.ndarray | None = field(init=False, default=None)
    # the model's whole words, and what those near a population phrase read as (`nearest_fixed`)
    _vocabulary: frozenset[str] = field(init=False, default=frozenset())
    _word_readings: dict[str, tuple[int, float]] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.retriever is None:
            self.retriever = HybridRetriever.from_index(
                self.index, self.encoder, self.settings.retrieval
            )
        self.answerer = Answerer(
            self.index,
            VerdictModel.load(self.settings.verdict_model_file),
            self.settings.retrieval.abstain_threshold,
        )
        passages = self.index.passages
        self._vocabulary = general_vocabulary()
        self.reader = QueryReader(
            self.index.tokenizer,
            [f"{p.section}\n{p.text}" for p in passages if p.kind != BlockKind.ENTRY],
            self._vocabulary,
            word_frequency=EnglishFrequency(self.settings.index_dir),
            reference_texts=[p.text for p in passages if p.kind == BlockKind.ENTRY],
            listed_only_authors=listed_only_authors(passages, self.index.references),
            keep_vocabulary_in=self.settings.index_dir,
            drug_names=DrugNames(self.settings.index_dir),
        )
        self.sources = SourceEvidenceFinder(self.index)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        encoder: TextEncoder | None = None,
        rebuild: bool = False,
        progress: Progress = quiet,
    ) -> Assistant:
        settings = settings or Settings.from_env()
        encoder = encoder or Encoder()
        index, retriever = open_search(settings, encoder, rebuild=rebuild, progress=progress)
        return cls(settings, encoder, index, retriever)

    @classmethod
    def open_for_queries(
        cls,
        settings: Settings | None = None,
        progress: Progress = quiet,
    ) -> Assistant:
        """An assistant that answers through the light ONNX encoder when the index is current.

        Building a missing or stale index still uses sentence-transformers; serving questions
        does not need to import torch at all (a cold `ketaqa ask` in about a second)."""
        from ketaqa.pipeline.indexing.fast_encoder import query_encoder

        settings = settings or Settings.from_env()
        encoder = None
        if settings.backend.kind == "milvus":  # the ONNX export, when this machine has one
            encoder = query_encoder(settings.index_dir)
        elif index_status(settings) == "ok":
            encoder = query_encoder(settings.index_dir, export_missing=True, progress=progress)
        return cls.open(settings, encoder, progress=progress)

    def ask(
        self,
        question: str,
        top_k: int = 5,
        method: Method = Method.HYBRID,
        filters: Filters | None = None,
    ) -> AnswerView:
        """The answer to one question, with everything shown beside its passages."""
        return view_answer(self.answer(question, top_k, method, filters), self.index, self.sources)

    def answer(
        self,
        question: str,
        top_k: int = 5,
        method: Method = Method.HYBRID,
        filters: Filters | None = None,
    ) -> Answer:
        """The ranked passages and the verdict, before anything is looked up to show them."""
        question = validate_question(question)
        top_k = validate_top_k(top_k)
        want = max(top_k, SIGNAL_DEPTH)
        if filters is not None:
            want = max(top_k * 4, self.settings.retrieval.candidates)
        analysis, hits, vector = self.retrieve(question, want, method)
        answer = self.answerer.answer(analysis, hits, vector, top_k if filters is None else want)
        if filters is None:
            return answer
        kept = [rp for rp in answer.passages if filters.allows(rp)][:top_k]
        kept = [
            RankedPassage(i, rp.passage, rp.score, rp.highlight, rp.highlight_score)
            for i, rp in enumerate(kept, start=1)
        ]
        return replace(answer, passages=tuple(kept))

    def retrieve(
        self, question: str, k: int, method: Method = Method.HYBRID
    ) -> tuple[QueryAnalysis, list[Hit], np.ndarray]:
        """Read the question, encode what it asks for, and rank passages: the one path that
        `ask`, the verdict's fitting and the benchmarks share."""
        analysis = self.reader.read(question)
        probes = analysis.salience_probes()
        words = analysis.meaning_probes()
        # two encoder batches of like lengths: the question (and a case history's ask) and
        # the same without its rarest missing concept; then the missing words to read by
        # meaning. One batch would pad each word to the question's length (a vignette's:
        # 15 ms mean for a warm ask against 10 ms in two, on the evaluation set)
        base = analysis.salience_base
        own_base = [base] if probes and base != analysis.search_text else []
        vectors = self.encoder.encode(
            [analysis.search_text, *own_base, *(text for _, text in probes)]
        )
        vector = vectors[0]
        if probes:
            base_vector = vectors[len(own_base)]
            moved = [1.0 - float(base_vector @ v) for v in vectors[1 + len(own_base) :]]
            analysis = analysis.with_salience(
                {typed: m for (typed, _), m in zip(probes, moved, strict=True)}
            )
        meant = self.read_by_meaning(words)
        if meant:
            analysis = analysis.with_meant_populations(w for ws in meant.values() for w in ws)
        hits = self.retriever.search(analysis, k, method, query_vector=vector)
        return analysis, hits, vector

    def read_by_meaning(self, words: list[str]) -> dict[str, tuple[str, ...]]:
        """Words the statement never uses, read as the lexicon's nearest population phrase
        when the encoder puts them close enough: a vignette's "schizoaffective" or "meth"
        must rank the contraindication first. Only ranking reads this; the word stays a
        missing concept ("methadone" is near "heroin" but is not what the statement says).
        A word of the model's vocabulary is read from the table `ketaqa index` kept; the
        others are encoded, in one batch."""
        if not words:
            return {}
        if self._phrase_vectors is None:
            self.read_phrases()
        table = self._word_readings
        looked_up = {w for w in words if table is not None and w in self._vocabulary}
        rest = [w for w in words if w not in looked_up]
        meant = {}
        if rest:
            similarity = self.encoder.encode(rest) @ self._phrase_vectors.T
            for word, row in zip(rest, similarity, strict=True):
                best = int(row.argmax())
                if float(row[best]) >= MEANING_SIMILARITY:
                    meant[word] = self._phrases[best][1]
        for word in looked_up:
            if word in table:
                meant[word] = self._phrases[table[word][0]][1]
        return {w: meant[w] for w in words if w in meant}

    def read_phrases(self, build_readings: bool = False) -> None:
        """The population phrases' vectors, once: read from beside the ONNX encoder when
        `ketaqa index` (or an earlier question) kept them, else encoded; and the table of
        what the model's whole words read as, which only `ketaqa index` builds
        (`build_readings`): a question never waits ten seconds for it."""
        self._phrases = self.reader.population_phrases()
        self._phrase_vectors = encode_fixed(self.encoder, [t for t, _ in self._phrases])
        self._word_readings = nearest_fixed(
            self.encoder,
            sorted(self._vocabulary),
            self._phrase_vectors,
            MEANING_SIMILARITY,
            build=build_readings,
        )

    def signals(self, question: str) -> dict[str, float]:
        """The verdict model's inputs for one question, exactly as `ask` computes them."""
        analysis, hits, vector = self.retrieve(validate_question(question), SIGNAL_DEPTH)
        return self.answerer.signals(analysis, hits, vector)
