"""Which bibliography record a place in the statement cites, from `cited_in` in references.json.

The statement names its sources loosely ("A-1", "Section II: Ketamine infusions", "[Visser &
Schug, 2006]"); references.json says where each record is cited, so linking is a lookup with a
title/author tie-break, never a guess from the text alone.
"""

from __future__ import annotations

import re

from ketaqa.pipeline.documents.corpus import Reference

BRACKET_CITE_RE = re.compile(r"\[([A-Z][^\]]*?\d{4})\]")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\s*/\s*", " / ", text)).strip().lower()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class ReferenceLinker:
    def __init__(self, references: tuple[Reference, ...]):
        self.references = references

    def by_citation(self, where: str) -> list[Reference]:
        """References whose `cited_in` names this place exactly (normalised)."""
        want = _norm(where)
        return [r for r in self.references if any(_norm(c) == want for c in r.cited_in)]

    def best_match(
        self, candidates: list[Reference], text: str, *, same_author: bool = False
    ) -> Reference | None:
        """The candidate whose title and first author best match a verbatim citation; with
        `same_author`, only a candidate whose first author the citation names."""
        words = _words(text)
        scored = []
        for ref in candidates:
            surname = (ref.first_author_surname.lower().split() or ["_"])[0]
            if same_author and surname not in words:
                continue
            title = _words(ref.title) or {"_"}
            score = len(title & words) / len(title)
            if surname in words:
                score += 0.5
            if ref.year and str(ref.year) in text:
                score += 0.25
            scored.append((score, ref.key, ref))
        scored.sort(key=lambda s: (-s[0], s[1]))
        if scored and scored[0][0] >= 0.5:
            return scored[0][2]
        return None

    def studies_named(self, citations: list[str]) -> tuple[str, ...]:
        """Keys of the records these verbatim citations name, each by its first author: an item
        heading and the part lines under it ("C-1. (a) Noppers I, …", "(b) Niesters M, …")."""
        found = (self.best_match(list(self.references), c, same_author=True) for c in citations)
        return tuple(dict.fromkeys(ref.key for ref in found if ref))

    def by_citation_prefix(self, prefix: str) -> list[str]:
        """Keys of references cited at a place whose description starts with `prefix`."""
        return [r.key for r in self.references if any(c.startswith(prefix) for c in r.cited_in)]

    def in_text(self, text: str) -> list[Reference]:
        """Links for in-text mentions such as "[Visser & Schug, 2006]"."""
        found = []
        for mention in BRACKET_CITE_RE.findall(text):
            hits = [r for r in self.references if any(f"[{mention}]" in c for c in r.cited_in)]
            for ref in hits or self._by_author_year(mention):
                if ref not in found:
                    found.append(ref)
        return found

    def unlinked(self, text: str) -> list[str]:
        """In-text mentions ("[Quill & Rook, 2017]") that name no known record."""
        return [f"[{m}]" for m in BRACKET_CITE_RE.findall(text) if not self.in_text(f"[{m}]")]

    def _by_author_year(self, mention: str) -> list[Reference]:
        """An unreviewed mention ("Visser & Schug, 2006"): the one record with that first
        author and year, if exactly one."""
        surname = re.match(r"[A-Z][\w'-]+", mention)
        year = re.search(r"(19|20)\d\d", mention)
        if not surname or not year:
            return []
        hits = [
            r
            for r in self.references
            if r.year == int(year.group(0))
            and r.first_author_surname.lower().startswith(surname.group(0).lower())
        ]
        return hits if len(hits) == 1 else []

    def shorts(self, keys: tuple[str, ...]) -> str:
        """The short names ("Orhurhu 2019") of these references, for section paths."""
        refs = [r for k in keys for r in self.references if r.key == k]
        return " / ".join(r.short for r in refs)
