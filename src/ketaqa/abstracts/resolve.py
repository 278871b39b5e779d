"""Finding a reference's PMID: ECitMatch, then DOI, then title; and the log of how each was found.

ECitMatch (journal|year|volume|first page|author) matches a citation as printed, so it goes
first and answers for every reference in one request; a DOI search comes next, then the title's
content words with the first author and year. Only a single unambiguous hit is accepted: a
wrong abstract beside a citation is worse than none. The outcome for every reference is kept in
`corpus/abstracts/resolution.json` so `ketaqa abstracts status` can say how each was found, or
why not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ketaqa.abstracts.entrez import (
    CitationQuery,
    EntrezClient,
    EutilsHTTPError,
    normalise_title,
)
from ketaqa.files import write_atomic
from ketaqa.pipeline.documents.abstract_corpus import ABSTRACTS_DIR
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.pubmed_xml import PubmedXMLError

RESOLUTION_FILE = "resolution.json"
TITLE_SEARCH_WORDS = 10
_STOPWORDS = frozenset(
    "a an and are as at by for from in into is its of on or the to with without does not vs".split()
)
_VOLUME_PAGES = re.compile(
    r"^\s*(?P<volume>[0-9A-Za-z]+)\s*(?:\([^)]*\))?\s*:\s*(?P<page>[eE]?\d+)"
)


@dataclass(frozen=True)
class Resolution:
    """How a reference got its PMID ("references.json", "ecitmatch", "doi", "title",
    "import"), or, with `pmid` None, why it has none."""

    key: str
    pmid: str | None
    how: str
    detail: str = ""


def resolve_all(client: EntrezClient, refs: Sequence[Reference]) -> list[Resolution]:
    """A Resolution for every reference, in order; one ECitMatch request covers them all."""
    out: dict[str, Resolution] = {}
    todo = []
    for ref in refs:
        if ref.pmid:
            out[ref.key] = Resolution(ref.key, ref.pmid, "references.json")
        else:
            todo.append(ref)
    queries = [q for ref in todo if (q := citation_query(ref))]
    matched: dict[str, str] = {}
    if queries:
        try:
            matched = client.ecitmatch(queries)
        except (EutilsHTTPError, PubmedXMLError):
            matched = {}  # fall through to DOI and title searches
    for ref in todo:
        answer = matched.get(ref.key, "")
        if answer.isdigit():
            out[ref.key] = Resolution(ref.key, answer, "ecitmatch")
            continue
        why_not = f"ECitMatch: {answer}" if answer else "ECitMatch: not enough citation data"
        out[ref.key] = search_pmid(client, ref, why_not)
    return [out[ref.key] for ref in refs]


def search_pmid(client: EntrezClient, ref: Reference, why_not: str = "") -> Resolution:
    """DOI, then title search; a single hit only, else the reasons every step gave."""
    steps = []
    if ref.doi:
        steps.append(("doi", f'"{ref.doi}"[doi]'))
    if title_query := title_search_term(ref):
        steps.append(("title", title_query))
    reasons = [why_not] if why_not else []
    for how, term in steps:
        try:
            ids = client.esearch(term)
        except EutilsHTTPError as exc:
            return Resolution(ref.key, None, "unresolved", f"HTTP error {exc.status}")
        except PubmedXMLError as exc:
            return Resolution(ref.key, None, "unresolved", str(exc))
        if len(ids) == 1:
            return Resolution(ref.key, ids[0], how)
        reasons.append(
            f"{how}: ambiguous, {len(ids)} records" if ids else f"{how}: no PubMed record"
        )
    if not steps:
        reasons.append("no DOI and no title to search")
    return Resolution(ref.key, None, "unresolved", "; ".join(reasons))


def citation_query(ref: Reference) -> CitationQuery | None:
    """The ECitMatch line for a journal article, when journal, year, volume and page are known."""
    match = _VOLUME_PAGES.match(ref.volume_pages or "")
    if not (match and ref.journal and ref.year):
        return None
    first = (ref.authors or "").split(",")[0].strip()
    return CitationQuery(ref.key, ref.journal, str(ref.year), match["volume"], match["page"], first)


def title_search_term(ref: Reference) -> str | None:
    """A PubMed query from the title's content words, the first author and the year."""
    words = [w for w in normalise_title(ref.title).split() if w not in _STOPWORDS and len(w) > 1]
    if not words:
        return None
    parts = [f"{w}[ti]" for w in words[:TITLE_SEARCH_WORDS]]
    surname = ref.first_author_surname
    if ref.authors and surname:
        parts.append(f"{surname}[au]")
    if ref.year:
        parts.append(f"{ref.year}[dp]")
    return " AND ".join(parts)


# ---------------------------------------------------------------------------------------------
# The log


def resolution_path(corpus_dir: Path) -> Path:
    """Beside the cached abstracts (git-ignored); not an .xml, so never indexed."""
    return corpus_dir / ABSTRACTS_DIR / RESOLUTION_FILE


def load_resolutions(corpus_dir: Path) -> dict[str, Resolution]:
    path = resolution_path(corpus_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: Resolution(**v) for k, v in data.get("references", {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}  # absent or unreadable: status then says "not looked up yet"


def save_resolutions(corpus_dir: Path, resolutions: Iterable[Resolution]) -> None:
    """Merge these outcomes into the log (newer wins), written atomically."""
    merged = load_resolutions(corpus_dir)
    merged.update({r.key: r for r in resolutions})
    data = {"references": {k: asdict(merged[k]) for k in sorted(merged)}}
    write_atomic(resolution_path(corpus_dir), json.dumps(data, indent=1).encode("utf-8") + b"\n")
