"""Reference records read from a document's own bibliography, with references.json over them.

A document in the college's template prints its sources as `Author A, Author B. Title. *Journal*
Year; Vol: pages. doi:…`. Each entry becomes a `Reference`; the reviewed records in
references.json are an overlay: an entry the reviewed file knows keeps the reviewed key, and the
reviewed value wins field by field wherever it has one (corrections, `citation_note`, resolved
PMIDs). An entry the reviewed file does not know still gets a record, with a stable generated key
("smith2019", "smith2019b"), so a new document's citations link without hand-made records.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import fields, replace

from ketaqa.pipeline.documents.corpus import Document, Reference

DOI_RE = re.compile(r"(?:\bdoi:\s*|https?://(?:dx\.)?doi\.org/)(10\.\d{4,9}/[^\s>]+)", re.I)
PMID_RE = re.compile(r"\bPMID:?\s*(\d{4,9})\b")
YEAR_AT_RE = re.compile(r"(?<![\d/])((?:19|20)\d\d)(?!\d)")
ITALIC_RE = re.compile(r"\*([^*]+)\*")
PARTICLE = r"(?:(?:van|von|de|den|der|da|di|du|le|la|del|dos) )*"
NAME = rf"{PARTICLE}[A-Z][\w'’-]+(?:[ -]{PARTICLE}[A-Z][\w'’-]+)*(?: [A-Z]{{1,5}})?"
AUTHOR_RE = re.compile(rf"(?:{NAME}|[A-Z]{{1,5}})(?: et al\.?| \(eds?\))?|et al\.?|Jr\.?")
AUTHORS_END_RE = re.compile(r"\.\s|(?<=et al\.),\s|(?<=et al),\s")


def parse_entry(text: str) -> dict[str, object]:
    """Authors, title, journal, year, volume/pages, DOI and PMID of one printed entry."""
    # a line break inside an entry ends a part ("… risks and benefits\nBr J Clin Pharmacol")
    text = re.sub(r"(?<![.?!])\n(?!<)", ". ", text.strip())
    flat = re.sub(r"\s+", " ", text.replace("<", " ").replace(">", " ")).strip().lstrip("*")
    doi = DOI_RE.search(flat)
    pmid = PMID_RE.search(flat)
    authors, rest = _split_authors(flat)
    title, journal, tail = _split_title(rest)
    year = YEAR_AT_RE.search(tail) or YEAR_AT_RE.search(rest)
    volume = tail[year.end() :] if year and year.string is tail else ""
    volume = DOI_RE.split(volume)[0]
    volume = re.split(r"\.\s|\bPMID\b|\bPublished\b|\bEpub\b|<?https?://", volume)[0]
    return {
        "authors": authors,
        "title": title.strip().rstrip("."),
        "journal": journal.strip().rstrip("."),
        "year": int(year.group(1)) if year else None,
        "volume_pages": volume.lstrip(" ;,./)").rstrip(" ;,.").replace(" ", "") if volume else "",
        "doi": doi.group(1).rstrip(".,;") if doi else None,
        "pmid": pmid.group(1) if pmid else None,
    }


def _split_authors(flat: str) -> tuple[str, str]:
    """The author list ends at the first ". " (or ", " before "et al.,") after author names."""
    for m in AUTHORS_END_RE.finditer(flat):
        head = flat[: m.start()].strip()
        names = [n.strip() for n in re.split(r",\s*", head) if n.strip()]
        if names and all(AUTHOR_RE.fullmatch(n) for n in names):
            return head, flat[m.end() :]
        break
    return "", flat


def _split_title(rest: str) -> tuple[str, str, str]:
    """Title, journal and what follows the journal: the italic journal nearest its year, else
    the last sentence (or line) before the year."""
    italics = [
        m for m in ITALIC_RE.finditer(rest) if YEAR_AT_RE.search(rest[m.end() : m.end() + 24])
    ]
    if italics:
        m = italics[-1]
        return rest[: m.start()].replace("*", ""), m.group(1), rest[m.end() :]
    year = YEAR_AT_RE.search(rest)
    if not year:
        return rest.replace("*", ""), "", ""
    before = rest[: year.start()].replace("*", "")
    cut = before.rstrip(" ,(").rfind(". ")
    if cut < 0:
        return before, "", rest[year.start() :]
    return before[: cut + 1], before[cut + 2 :].strip(" ,("), rest[year.start() :]


def generated_key(authors: str, title: str, year: int | None, taken: set[str]) -> str:
    """First author's surname and year, ASCII, with a letter added when the key is taken."""
    first = re.sub(r"\s+et al\.?$", "", authors.split(",")[0].strip())
    ref = Reference("", first, title, "", year)
    ascii_name = unicodedata.normalize("NFKD", ref.first_author_surname)
    stem = re.sub(r"[^a-z]", "", ascii_name.encode("ascii", "ignore").decode().lower()) or "ref"
    stem += str(year) if year else "nd"
    key, letter = stem, ord("b")
    while key in taken:
        key, letter = f"{stem}{chr(letter)}", letter + 1
    return key


def overlay(reviewed: Reference, parsed: Reference) -> Reference:
    """The reviewed record, with the parsed value wherever the reviewed one is empty."""
    empty = {
        f.name: getattr(parsed, f.name)
        for f in fields(Reference)
        if not _has(reviewed, f.name) and _has(parsed, f.name)
    }
    return replace(reviewed, **empty)


def _has(ref: Reference, name: str) -> bool:
    value = getattr(ref, name)
    return value not in (None, "", ())


def _agrees(reviewed: Reference, parsed: Reference) -> bool:
    """A linked entry is its reviewed record if both name the same first author, or the same
    year and mostly the same title (a misspelt author); a loose link from another document's
    bibliography is not."""
    a = reviewed.first_author_surname.lower()
    b = parsed.first_author_surname.lower().lstrip("*")
    if a and a == b:
        return True
    want, got = _words(reviewed.title), _words(parsed.title)
    return reviewed.year == parsed.year and bool(want) and len(want & got) >= 0.6 * len(want)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def with_bibliographies(
    documents: tuple[Document, ...], reviewed: tuple[Reference, ...]
) -> tuple[tuple[Reference, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """All references: the reviewed ones (overlaid on their parsed entry) in their order, then
    every entry no reviewed record matched, with a generated key. Also, per document, the keys
    of the entries its bibliography printed."""
    from ketaqa.pipeline.documents.outline import BlockKind
    from ketaqa.pipeline.documents.structure import parse_document

    by_key = {r.key: r for r in reviewed}
    parsed_for: dict[str, Reference] = {}
    added: list[Reference] = []
    printed: list[tuple[str, tuple[str, ...]]] = []
    taken = set(by_key)
    for doc in documents:
        if doc.kind == "abstract":
            continue
        own: list[str] = []
        for block in parse_document(doc, reviewed).blocks:
            if block.kind != BlockKind.ENTRY:
                continue
            heading = block.path.parts[1] if len(block.path.parts) > 1 else ""
            record = parse_entry(doc.text[block.start : block.end])
            parsed = Reference("", cited_in=(f"Bibliography: {heading}",), **record)  # type: ignore[arg-type]
            key = block.reference_keys[0] if len(block.reference_keys) == 1 else None
            if key in by_key and _agrees(by_key[key], parsed) and key not in own:
                parsed_for.setdefault(key, parsed)  # the first document's printing fills gaps
            else:
                key = generated_key(parsed.authors, parsed.title, parsed.year, taken)
                taken.add(key)
                added.append(replace(parsed, key=key))
            own.append(key)
        if own:
            printed.append((doc.doc_id, tuple(own)))
    merged = [
        overlay(r, replace(parsed_for[r.key], key=r.key)) if r.key in parsed_for else r
        for r in reviewed
    ]
    return (*merged, *added), tuple(printed)
