"""Fresh batches: the first measurement is recorded once, never overwritten, and reported beside
the current figures. Synthetic runs, no model or index."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ketaqa.errors import KetaqaError
from ketaqa.evaluation.batches import (
    CHANGED,
    FIRST_MEASURED_NOW,
    NOT_YET_MEASURED,
    RECORDED,
    batch_section,
    batches_of,
    is_batch_tag,
    load_first_measurements,
    save_first_measurements,
)
from ketaqa.evaluation.dataset import EvalItem
from ketaqa.evaluation.report import batch_lines, report_markdown
from ketaqa.evaluation.runs import RunSet

TAG = "batch-2026-12-04"
HEADER = {"date": "2026-12-04T10:00:00+00:00", "commit": "abc1234def5678", "dirty": False}


def item(id: str, answerable: bool = True, tags: tuple[str, ...] = ("ward", TAG)) -> EvalItem:
    spans = ("the gold span",) if answerable else ()
    tags = tags if answerable else ("near-miss", "unanswerable", *tags[1:])
    return EvalItem(id, f"question {id}?", spans, None, tags, "test", answerable)


ITEMS = [item("q901"), item("q902"), item("q903", answerable=False), item("q010", tags=("sec2",))]
QRELS = {"q901": {"gold": 1}, "q902": {"gold": 1}, "q010": {"gold": 1}}


def runset(good: bool, items=ITEMS) -> RunSet:
    """Every answerable question answered from the gold passage (good) or from another one at
    rank 1, the gold at rank 2, told "does not answer" (bad); the unanswerable one refused."""
    runs: dict[str, dict[str, float]] = {}
    answers = {}
    for i in items:
        order = ["gold", "other"] if good else ["other", "gold"]
        runs[i.id] = {pid: 10.0 - n for n, pid in enumerate(order)}
        text = {"gold": "the gold span here", "other": "something else"}
        verdict = "answers" if i.answerable and good else "not_covered"
        answers[i.id] = {
            "passages": [
                {"id": pid, "rank": n + 1, "highlight": text[pid], "reference_keys": []}
                for n, pid in enumerate(order)
            ],
            "answerable": verdict == "answers",
            "verdict": verdict,
            "confidence": 0.9 if verdict == "answers" else 0.1,
        }
    return RunSet({"full": runs}, answers)


def measure(recorded: dict, good: bool = True, items=ITEMS, run_items=ITEMS):
    return batch_section(items, run_items, runset(good, run_items), QRELS, HEADER, recorded)


def test_batch_tags():
    assert is_batch_tag("batch-2026-12-04") and is_batch_tag("batch-2026-12-04-a")
    assert is_batch_tag("batch-2026-12-04-7")
    for bad in ("batch-2026-13-01", "batch-2026-12-04-A", "batch-2026-12-04-ab", "batch-26-1-1"):
        assert not is_batch_tag(bad), bad
    assert list(batches_of(ITEMS)) == [TAG]
    with pytest.raises(KetaqaError, match="two batches"):
        batches_of([item("q1", tags=("ward", TAG, "batch-2026-12-05"))])


def test_first_run_records_the_batch(tmp_path):
    path = tmp_path / "batches.json"
    section, first = measure(load_first_measurements(path))
    (row,) = section["rows"]
    assert row["status"] == FIRST_MEASURED_NOW and row["questions"] == 3
    assert row["now"] == row["first"]["metrics"]
    assert row["now"]["hit@1"] == 1.0 and row["now"]["abstention_recall"] == 1.0
    assert save_first_measurements(path, first) == [TAG]
    saved = load_first_measurements(path)[TAG]
    assert saved.commit == HEADER["commit"] and saved.date == HEADER["date"]
    assert saved.questions == ("q901", "q902", "q903")  # the batch only, not q010
    assert saved.metrics["false_abstention_rate"] == 0.0


def test_second_run_does_not_overwrite(tmp_path):
    path = tmp_path / "batches.json"
    save_first_measurements(path, measure({})[1])
    before = path.read_bytes()
    section, first = measure(load_first_measurements(path), good=False)
    assert first == {}
    (row,) = section["rows"]
    assert row["status"] == RECORDED
    assert row["first"]["metrics"]["hit@1"] == 1.0 and row["now"]["hit@1"] == 0.0
    assert row["now"]["hit@5"] == 1.0 and row["now"]["false_abstention_rate"] == 1.0
    # even a record made elsewhere for the same batch does not replace the first one
    assert save_first_measurements(path, measure({}, good=False)[1]) == []
    assert path.read_bytes() == before


def test_report_shows_first_and_now_and_the_headline(tmp_path):
    path = tmp_path / "batches.json"
    save_first_measurements(path, measure({})[1])
    section, _ = measure(load_first_measurements(path), good=False)
    report = {
        "split": "test",
        "questions": 4,
        "judged": 3,
        "retrievers": {},
        "answer": {},
        "by_tag": {},
        "batches": section,
    }
    text = report_markdown(report)
    assert "**Generalisation (newest batch, first measured):** `batch-2026-12-04`" in text
    assert "hit@1 1.000, hit@5 1.000" in text
    assert f"| {TAG} | first, 2026-12-04 `abc1234def` |" in text
    assert f"| {TAG} | now | 3 | 2 | 0.000 | 1.000 |" in text


def test_changed_batch_is_reported_not_rerecorded(tmp_path):
    path = tmp_path / "batches.json"
    save_first_measurements(path, measure({})[1])
    grown = [*ITEMS, item("q904")]
    section, first = measure(load_first_measurements(path), items=grown, run_items=grown)
    (row,) = section["rows"]
    assert first == {} and row["status"] == CHANGED and row["detail"] == "added q904"
    assert row["first"]["questions"] == ["q901", "q902", "q903"]
    edited = [item("q901"), item("q902"), item("q903", answerable=False, tags=("x", TAG))]
    edited[0] = EvalItem("q901", "reworded?", ("the gold span",), None, ("ward", TAG), "test", True)
    section, _ = measure(load_first_measurements(path), items=edited, run_items=edited)
    assert section["rows"][0]["status"] == CHANGED
    assert "edited" in section["rows"][0]["detail"]


def test_partial_run_records_nothing():
    section, first = measure({}, run_items=ITEMS[:1])
    (row,) = section["rows"]
    assert first == {} and row["status"] == NOT_YET_MEASURED and row["now"] is None
    assert row["detail"] == "1 of 3 questions in this run"
    assert section["headline"] is None
    _, first = batch_section(ITEMS, ITEMS, runset(True), QRELS, HEADER, {}, record=False)
    assert first == {}


@pytest.mark.parametrize(
    "damage",
    ['{"batches": {"batch-2026-12-04": {"date": 1}}}', "{not json", '["a list"]'],
)
def test_damaged_record_is_a_clear_error_and_is_kept(tmp_path, damage):
    path = tmp_path / "batches.json"
    path.write_text(damage, encoding="utf-8")
    with pytest.raises(KetaqaError, match=r"damaged.*restore it from git"):
        load_first_measurements(path)
    with pytest.raises(KetaqaError, match="damaged"):
        save_first_measurements(path, measure({})[1])
    assert path.read_text(encoding="utf-8") == damage
    assert [p.name for p in tmp_path.iterdir()] == ["batches.json"]  # no stray temporary file


def test_saved_file_is_stable_json(tmp_path):
    path = tmp_path / "batches.json"
    save_first_measurements(path, measure({})[1])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"note", "batches"} and list(data["batches"]) == [TAG]


def test_a_batch_retired_to_dev_keeps_its_first_measurement_and_says_now_is_in_sample(tmp_path):
    """Once the verdict is fitted on a batch, its figures now are in-sample: the report says so
    beside them, and the first measurement it recorded while held out stands."""
    section, first = measure({})
    retired = [replace(i, split="dev") for i in ITEMS]
    again, new = measure(first, items=retired, run_items=retired)
    (row,) = again["rows"]
    assert not new and row["status"] == RECORDED and row["split"] == "dev"
    assert row["first"] == section["rows"][0]["first"]
    assert "in-sample" in row["detail"]
    text = "\n".join(batch_lines(again))
    assert "now, in-sample (dev)" in text and "retired to dev" in text
