"""Per-question outcomes of the full pipeline, and the failing questions sorted by kind.

Every aggregate in the report is a count over these records, so a maintainer can go from a
number to the questions behind it, and an earlier report can be a baseline question by question.
"""

from __future__ import annotations

from collections.abc import Sequence

from ketaqa.evaluation.dataset import EvalItem, Judgments, fold
from ketaqa.pipeline.documents.passages import Passage

EXCERPT_CHARS = 160

# Kind of failure -> (what it means, the outcome test that marks it).
FAILURE_KINDS = {
    "miss@1": "the top passage does not hold a gold span",
    "miss@5": "no passage in the top 5 holds a gold span",
    "false abstention": "answerable, but the verdict says the statement does not answer",
    "false answer": "unanswerable, but the verdict says a passage answers",
    "wrong highlight": "the highlighted sentence of the top passage holds no gold span",
    "wrong citation": "the top passage does not cite the expected reference",
}


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a passage, on one line, cut at a word."""
    text = fold(text)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def question_outcomes(
    items: Sequence[EvalItem],
    answers: dict[str, dict],
    qrels: Judgments,
    passages: Sequence[Passage],
) -> list[dict]:
    """One plain record per question: what the full pipeline returned and whether it was right."""
    by_id = {p.id: p for p in passages}
    records = []
    for item in items:
        answer = answers[item.id]
        ranked = answer["passages"]
        top = ranked[0] if ranked else None
        relevant = qrels.get(item.id, {})
        rank = next((p["rank"] for p in ranked if p["id"] in relevant), None)
        gold = [by_id[pid] for pid in relevant if pid in by_id]
        record: dict = {
            "id": item.id,
            "question": item.question,
            "tags": list(item.tags),
            "answerable": item.answerable,
            "judged": bool(relevant),
            "rank": rank,
            "hit1": rank == 1 if relevant else None,
            "hit5": rank is not None and rank <= 5 if relevant else None,
            "verdict": answer["verdict"],
            "abstained": not answer["answerable"],
            "confidence": round(float(answer["confidence"]), 4),
            "highlight_ok": None,
            "citation_ok": None,
            "top_section": top["section"] if top else None,
            "top_excerpt": excerpt(top["text"]) if top else None,
            "gold_section": str(min(gold, key=lambda p: p.start).section) if gold else None,
        }
        if item.answerable and top is not None:
            record["highlight_ok"] = any(fold(s) in fold(top["highlight"]) for s in item.gold_spans)
            if item.reference_key:
                record["citation_ok"] = item.reference_key in (top.get("reference_keys") or [])
        records.append(record)
    return records


def failure_kinds(record: dict) -> list[str]:
    """The kinds of failure one outcome record shows (none when the question passed)."""
    kinds = []
    if record["hit1"] is False:
        kinds.append("miss@1")
    if record["hit5"] is False:
        kinds.append("miss@5")
    if record["answerable"] and record["abstained"]:
        kinds.append("false abstention")
    if not record["answerable"] and not record["abstained"]:
        kinds.append("false answer")
    if record["highlight_ok"] is False:
        kinds.append("wrong highlight")
    if record["citation_ok"] is False:
        kinds.append("wrong citation")
    return kinds


def failures_by_kind(records: Sequence[dict]) -> dict[str, list[dict]]:
    """Every failing question under each kind it fails, with what was shown and what was due."""
    failures: dict[str, list[dict]] = {kind: [] for kind in FAILURE_KINDS}
    for record in records:
        for kind in failure_kinds(record):
            failures[kind].append(
                {
                    "id": record["id"],
                    "question": record["question"],
                    "rank": record["rank"],
                    "verdict": record["verdict"],
                    "top_section": record["top_section"],
                    "top_excerpt": record["top_excerpt"],
                    "gold_section": record["gold_section"],
                }
            )
    return failures
