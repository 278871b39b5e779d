"""Teaching-set records and the checks on what users type or import into them.

An item is a question, the passages chosen for it (each a *snapshot*: id, verbatim text,
highlighted sentence, section path, page label and citation, so an export still reads the same
after the corpus is re-indexed), a note, and optionally the passage that is the correct answer.
Everything stored goes through `clean_text`, `validate_passage` or `validate_item` first.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from ketaqa.config import MAX_QUESTION_CHARS, MAX_TOP_K
from ketaqa.errors import InputError, KetaqaError
from ketaqa.text import has_control_characters

MAX_NAME_CHARS = 100
MAX_NOTE_CHARS = 5_000
MAX_PASSAGE_CHARS = 20_000
MAX_FIELD_CHARS = 5_000


class TeachingError(KetaqaError):
    """A teaching-set operation that cannot be done; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class SavedPassage:
    """A passage as it was shown when saved: enough to print it and cite it without the index."""

    id: str
    text: str
    highlight: str
    section: str
    pages: str
    citation: str
    source: str = "statement"
    reference_key: str | None = None
    doi: str | None = None
    pmid: str | None = None

    @classmethod
    def from_answer_json(cls, d: Mapping) -> SavedPassage:
        """From one entry of `Assistant.to_json(answer)["passages"]`."""
        return cls(
            id=str(d["id"]),
            text=str(d["text"]),
            highlight=str(d.get("highlight") or ""),
            section=str(d.get("section") or ""),
            pages=str(d.get("pages") or ""),
            citation=str(d.get("citation") or ""),
            source=str(d.get("source") or "statement"),
            reference_key=d.get("reference_key"),
            doi=d.get("doi"),
            pmid=d.get("pmid"),
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Item:
    id: int
    position: int  # 1-based place in the set
    question: str
    passages: tuple[SavedPassage, ...]
    note: str = ""
    correct_passage_id: str | None = None
    created: str = ""
    set_name: str = ""  # the set's name as stored (may differ in case from what was typed)

    @property
    def correct_passage(self) -> SavedPassage | None:
        return next((p for p in self.passages if p.id == self.correct_passage_id), None)


@dataclass(frozen=True)
class SetSummary:
    id: int
    name: str
    items: int
    created: str
    updated: str


@dataclass(frozen=True)
class TeachingSet:
    id: int
    name: str
    created: str
    updated: str
    items: tuple[Item, ...]


# The fields of a new item as `validate_item` returns them: question, passages, note, correct id.
ItemFields = tuple[str, tuple[SavedPassage, ...], str, str | None]


# ---------------------------------------------------------------------------------------------
# Validation of what users type or import


def clean_question(value: object, what: str = "question") -> str:
    """A question fit to store: text within its limit, white space collapsed, not empty."""
    question = " ".join(clean_text(value, what, MAX_QUESTION_CHARS).split())
    if not question:
        raise InputError(f"the {what} is empty")
    return question


def utc_now() -> str:
    """The timestamp format of every `created`, `updated` and `exported` field."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean_text(value: object, what: str, max_chars: int, required: bool = True) -> str:
    """Text fit to store: a string, no control characters, within its length limit."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text")
    if has_control_characters(value):
        raise InputError(f"the {what} contains control or binary characters; type plain text")
    value = value.strip()
    if required and not value:
        raise InputError(f"the {what} is empty")
    if len(value) > max_chars:
        raise InputError(f"the {what} is {len(value)} characters long; the limit is {max_chars}")
    return value


def clean_name(name: object) -> str:
    """A set name: NFC, invisible characters (zero-width spaces, joiners, BOM) removed, runs of
    spaces made one; refused when nothing visible is left."""
    name = clean_text(name, "set name", MAX_NAME_CHARS)
    visible = "".join(c for c in unicodedata.normalize("NFC", name) if not _invisible(c))
    name = " ".join(visible.split())
    if not name:
        raise InputError("the set name has no visible characters")
    return name


def name_key(name: str) -> str:
    """What set names are compared by: case-folded, invisible characters and spacing ignored."""
    visible = "".join(c for c in unicodedata.normalize("NFC", str(name)) if not _invisible(c))
    return " ".join(visible.casefold().split())


def _invisible(c: str) -> bool:
    return unicodedata.category(c) == "Cf" or c in "\u115f\u1160\u3164\uffa0"


MAX_REQUEST_ID_CHARS = 100


def clean_request_id(value: object) -> str | None:
    """A client's request id for an idempotent save: None, or short printable ASCII."""
    if value is None or value == "":
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_REQUEST_ID_CHARS
        or not value.isascii()
        or not value.isprintable()
    ):
        raise InputError(
            f"request_id must be printable ASCII text of at most {MAX_REQUEST_ID_CHARS} characters"
        )
    return value


_PASSAGE_REQUIRED = {"id", "text", "highlight", "section", "pages", "citation"}
_PASSAGE_OPTIONAL = {"source", "reference_key", "doi", "pmid"}


def check_keys(d: object, required: set[str], optional: set[str], where: str) -> dict:
    """`d` as a JSON object with all required keys and no unknown ones (strict import)."""
    if not isinstance(d, dict):
        raise InputError(f"{where} must be a JSON object")
    missing = sorted(required - d.keys())
    if missing:
        raise InputError(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(d.keys() - required - optional)
    if unknown:
        raise InputError(f"{where} has unknown field(s) {', '.join(unknown)}")
    return d


def validate_passage(d: object, where: str = "passage") -> SavedPassage:
    """A passage snapshot from untrusted JSON; its highlight must be part of its text."""
    d = check_keys(d, _PASSAGE_REQUIRED, _PASSAGE_OPTIONAL, where)
    pid = clean_text(d["id"], f"{where} id", 200)
    text = d["text"]
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where} text must be non-empty text")
    if has_control_characters(text) or len(text) > MAX_PASSAGE_CHARS:
        raise InputError(f"{where} text has control characters or is too long")
    highlight = d["highlight"]
    if not isinstance(highlight, str) or not highlight or highlight not in text:
        raise InputError(f"{where} highlight must be a non-empty part of its text")
    fields = {
        k: clean_text(d[k], f"{where} {k}", MAX_FIELD_CHARS, required=False)
        for k in ("section", "pages", "citation")
    }
    source = d.get("source", "statement")
    if source not in ("statement", "abstract", "document"):
        raise InputError(f"{where} source must be statement, abstract or document")
    optional: dict[str, str | None] = {}
    for k in ("reference_key", "doi", "pmid"):
        v = d.get(k)
        optional[k] = None if v is None else clean_text(v, f"{where} {k}", 300) or None
    if optional["pmid"] is not None and not optional["pmid"].isdigit():
        raise InputError(f"{where} pmid must be digits")
    return SavedPassage(id=pid, text=text, highlight=highlight, source=source, **fields, **optional)


def validate_item(
    question: object,
    passages: Sequence[SavedPassage | Mapping],
    note: object = "",
    correct_passage_id: object = None,
    where: str = "item",
) -> ItemFields:
    """The item's fields checked and normalised, ready to store; InputError says what is wrong."""
    question = clean_question(question, f"{where} question")
    note = clean_text(note, f"{where} note", MAX_NOTE_CHARS, required=False)
    if isinstance(passages, (str, bytes)) or not isinstance(passages, Sequence):
        raise InputError(f"{where} passages must be a list")
    if not passages:
        raise InputError(f"{where} has no passages; pick at least one passage to save")
    if len(passages) > MAX_TOP_K:
        raise InputError(f"{where} has {len(passages)} passages; the limit is {MAX_TOP_K}")
    checked = tuple(
        validate_passage(p.to_dict() if isinstance(p, SavedPassage) else p, f"{where} passage {n}")
        for n, p in enumerate(passages, start=1)
    )
    ids = [p.id for p in checked]
    if len(set(ids)) != len(ids):
        raise InputError(f"{where} lists the same passage twice")
    if correct_passage_id in (None, ""):
        correct = None
    elif not isinstance(correct_passage_id, str) or correct_passage_id not in ids:
        raise InputError(f"{where}: the correct answer must be one of the saved passages")
    else:
        correct = correct_passage_id
    return question, checked, note, correct
