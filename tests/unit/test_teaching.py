"""Teaching sets: the SQLite and PostgreSQL stores, ordering, exports, strict import, damage
handling. No model; the PostgreSQL runs use a private server (tests/pg_fixture.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import threading
from pathlib import Path

import pytest

from ketaqa import teaching
from ketaqa.config import REPO_ROOT
from ketaqa.errors import InputError
from ketaqa.teaching import SavedPassage, TeachingError, TeachingStore

STATEMENT = REPO_ROOT / "corpus" / "position-statement.txt"
EVAL_KEYS = {"id", "question", "gold_spans", "reference_key", "tags", "split", "answerable"}


@pytest.fixture(scope="module")
def lines() -> list[str]:
    """Real bullet lines of the statement that carry an evidence grade."""
    text = STATEMENT.read_text(encoding="utf-8")
    found = [line for line in text.splitlines() if "level of certainty" in line]
    assert len(found) >= 4
    return found


def passage(text: str, n: int, highlight: str | None = None, **extra) -> SavedPassage:
    sentence = highlight or text.split(" (grade")[0].lstrip("- ").strip()
    return SavedPassage(
        id=f"position-statement:{n}-{n + len(text)}",
        text=text,
        highlight=sentence,
        section="Section I › A. Recent reviews › A-2 Cohen 2018",
        pages="pp. 2–6",
        citation=extra.pop("citation", "Cohen SP, et al. Consensus Guidelines. Reg Anesth 2018"),
        reference_key=extra.pop("reference_key", "cohen2018"),
        doi="10.1097/AAP.0000000000000808",
        pmid="29870457",
        **extra,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_factory(request, tmp_path):
    """New handles on one empty store, as separate app workers would open it."""
    if request.param == "postgres":
        from ketaqa.teaching.postgres import PostgresStore

        url = request.getfixturevalue("pg_url")
        return lambda: PostgresStore(url)
    return lambda: TeachingStore(tmp_path / "data" / teaching.DB_NAME)


@pytest.fixture
def store(store_factory) -> TeachingStore:
    return store_factory()


@pytest.fixture
def filled(store, lines) -> TeachingStore:
    store.add_item(
        "Week 1",
        "Which patients should not get ketamine?",
        [passage(lines[4], 100)],
        note="Start here",
        correct_passage_id=passage(lines[4], 100).id,
    )
    store.add_item(
        "Week 1",
        "What is said about CRPS?",
        [passage(lines[1], 200), passage(lines[2], 300, citation="Bell RF. Pain 2009")],
    )
    store.add_item("Week 1", "Spinal cord injury?", [passage(lines[0], 400)])
    return store


def questions(store: TeachingStore, name: str = "Week 1") -> list[str]:
    return [i.question for i in store.get_set(name).items]


# -- sets and items ------------------------------------------------------------------------------


@pytest.mark.parametrize("store_factory", ["sqlite"], indirect=True)
def test_database_is_wal_with_busy_timeout(filled):
    con = sqlite3.connect(filled.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    con = filled._connect()
    assert con.execute("PRAGMA busy_timeout").fetchone()[0] == teaching.BUSY_TIMEOUT_MS
    con.close()


def test_create_list_rename_delete(store):
    store.create_set("Week 2")
    store.create_set("week 1")
    assert [s.name for s in store.list_sets()] == ["week 1", "Week 2"]
    with pytest.raises(TeachingError, match="already exists"):
        store.create_set("WEEK 2")
    store.rename_set("week 1", "  Week   One ")
    assert [s.name for s in store.list_sets()] == ["Week 2", "Week One"]
    with pytest.raises(TeachingError, match="already exists"):
        store.rename_set("Week One", "week 2")
    store.delete_set("Week 2")
    assert [s.name for s in store.list_sets()] == ["Week One"]
    with pytest.raises(TeachingError, match="no set named"):
        store.delete_set("Week 2")


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "x" * 101, None])
def test_bad_set_names_are_refused(store, bad):
    with pytest.raises(InputError):
        store.create_set(bad)
    assert store.list_sets() == []


def test_items_keep_their_snapshot_and_order(filled, lines):
    ts = filled.get_set("Week 1")
    assert [i.position for i in ts.items] == [1, 2, 3]
    first = ts.items[0]
    assert first.passages[0].text == lines[4]  # verbatim, whitespace and quotes included
    assert first.correct_passage is not None and first.note == "Start here"
    assert filled.list_sets()[0].items == 3


def test_move_reorder_and_delete_items(filled):
    ids = [i.id for i in filled.get_set("Week 1").items]
    filled.move_item(ids[2], -1)
    assert questions(filled) == [
        "Which patients should not get ketamine?",
        "Spinal cord injury?",
        "What is said about CRPS?",
    ]
    filled.move_item(ids[0], -1)  # already first: stays
    filled.move_item(ids[0], +5)  # clamps to last
    assert questions(filled)[-1] == "Which patients should not get ketamine?"
    filled.reorder("Week 1", ids)
    assert [i.id for i in filled.get_set("Week 1").items] == ids
    with pytest.raises(TeachingError, match="every item"):
        filled.reorder("Week 1", ids[:2])
    filled.delete_item(ids[1])
    ts = filled.get_set("Week 1")
    assert [i.position for i in ts.items] == [1, 2]
    with pytest.raises(TeachingError, match="no item"):
        filled.delete_item(ids[1])


def test_item_validation(store, lines):
    good = passage(lines[0], 1)
    with pytest.raises(InputError, match="no passages"):
        store.add_item("S", "q?", [])
    with pytest.raises(InputError, match="question is empty"):
        store.add_item("S", "  ", [good])
    with pytest.raises(InputError, match="same passage twice"):
        store.add_item("S", "q?", [good, good])
    with pytest.raises(InputError, match="correct answer"):
        store.add_item("S", "q?", [good], correct_passage_id="elsewhere:1-2")
    with pytest.raises(TeachingError, match="no set named"):
        store.add_item("S", "q?", [good], create=False)
    assert store.list_sets() == []


def test_update_item_note_and_correct_answer(filled):
    item = filled.get_set("Week 1").items[1]
    filled.update_item(item.id, note="CRPS: grade B", correct_passage_id=item.passages[1].id)
    item = filled.get_set("Week 1").items[1]
    assert item.note == "CRPS: grade B" and item.correct_passage == item.passages[1]
    with pytest.raises(InputError):
        filled.update_item(item.id, correct_passage_id="nope")
    filled.update_item(item.id, correct_passage_id="")
    assert filled.get_set("Week 1").items[1].correct_passage_id is None


def test_concurrent_writers_lose_nothing(store_factory, lines):
    store_factory().create_set("Shared")
    errors: list[Exception] = []

    def writer(n: int) -> None:
        store = store_factory()  # its own connection, as another app worker would
        try:
            for k in range(8):
                store.add_item("Shared", f"question {n}-{k}?", [passage(lines[k % 4], k)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ts = store_factory().get_set("Shared")
    assert len(ts.items) == 48
    assert len({i.question for i in ts.items}) == 48
    assert [i.position for i in ts.items] == list(range(1, 49))


# -- exports -------------------------------------------------------------------------------------


def test_markdown_handout_numbers_citations_and_quotes_verbatim(filled, lines):
    filled.add_item("Week 1", "Is <script>alert(1)</script> escaped?", [passage(lines[0], 9)])
    md = teaching.to_markdown(filled.get_set("Week 1"), notice="Not prescriptive.")
    assert md.startswith("# Week 1\n")
    assert "*Not prescriptive.*" in md
    assert "## 1. Which patients should not get ketamine?" in md
    assert "[1] — correct answer" in md
    assert "[2]" in md and "[3]" not in md  # two distinct citations, each numbered once
    refs = md.split("## References", 1)[1]
    assert "1. Cohen SP" in refs and "2. Bell RF. Pain 2009" in refs
    assert "&lt;script&gt;" in md and "<script>" not in md
    body = lines[1].split(" (grade")[0]
    assert body.lstrip("- ").strip() in md
    assert "**Start here**" not in md and "**Note:** Start here" in md


def test_csv_has_one_row_per_passage_and_is_spreadsheet_safe(filled, lines):
    rows = list(csv.DictReader(io.StringIO(teaching.to_csv(filled.get_set("Week 1")))))
    assert [r["item"] for r in rows] == ["1", "2", "2", "3"]
    assert rows[0]["correct"] == "yes" and rows[1]["correct"] == ""
    assert tuple(rows[0]) == teaching.CSV_COLUMNS
    # bullet lines start with "- ", which a spreadsheet would read as a formula
    assert rows[0]["text"] == "'" + lines[4]
    assert rows[0]["pages"] == "pp. 2–6"


def test_json_round_trip_and_name_collision(filled):
    exported = teaching.to_json(filled.get_set("Week 1"))
    imported = filled.import_json(exported)
    assert imported.name == "Week 1 (2)"
    original = filled.get_set("Week 1")
    assert [(i.question, i.passages, i.note, i.correct_passage_id) for i in imported.items] == [
        (i.question, i.passages, i.note, i.correct_passage_id) for i in original.items
    ]
    assert filled.import_json(exported.encode("utf-8"), name="Copy").name == "Copy"


def _exported(filled) -> dict:
    return json.loads(teaching.to_json(filled.get_set("Week 1")))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: b"\xff\xfe\x00junk", "not UTF-8"),
        (lambda d: {**d, "format": "something-else"}, "not a ketaqa teaching set"),
        (lambda d: {**d, "version": 99}, "unsupported"),
        (lambda d: {**d, "extra": 1}, "unknown field"),
        (lambda d: {k: v for k, v in d.items() if k != "items"}, "missing items"),
        (lambda d: {**d, "items": {"a": 1}}, "must be a list"),
        (lambda d: {**d, "name": ""}, "set name is empty"),
        (lambda d: _set_item(d, 1, question=""), "item 2 question is empty"),
        (lambda d: _set_item(d, 0, correct_passage_id="x:1-2"), "correct answer"),
        (lambda d: _set_item(d, 1, passages=[]), "no passages"),
        (lambda d: _set_passage(d, highlight="not in the text"), "highlight"),
        (lambda d: _set_passage(d, pmid="29870457; DROP TABLE"), "pmid"),
        (lambda d: _set_passage(d, surprise=True), "unknown field"),
        (lambda d: _set_passage(d, text=None), "text"),
        (lambda d: [d], "must be a JSON object"),
    ],
)
def test_invalid_import_changes_nothing(filled, damage, message):
    before = [(s.name, s.items) for s in filled.list_sets()]
    data = damage(_exported(filled))
    if not isinstance(data, (str, bytes)):
        data = json.dumps(data)
    with pytest.raises(InputError, match=message):
        filled.import_json(data)
    assert [(s.name, s.items) for s in filled.list_sets()] == before


def _set_item(d: dict, n: int, **changes) -> dict:
    d["items"][n].update(changes)
    return d


def _set_passage(d: dict, **changes) -> dict:
    d["items"][1]["passages"][1].update(changes)
    return d


def test_eval_items_match_the_question_set_format(filled, tmp_path):
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text('{"id": "q007"}\n{"id": "q215"}\nnot json\n', encoding="utf-8")
    items = teaching.eval_items(filled.get_set("Week 1"), qfile)
    assert len(items) == 1  # only the item with a correct answer
    item = items[0]
    assert set(item) == EVAL_KEYS
    assert item["id"] == "q216"
    assert item["gold_spans"] == [filled.get_set("Week 1").items[0].correct_passage.highlight]
    assert item["reference_key"] == "cohen2018"
    assert item["tags"] == ["teaching-set"] and item["split"] == "dev"
    assert item["answerable"] is True
    corpus = STATEMENT.read_text(encoding="utf-8")
    assert all(span in corpus for span in item["gold_spans"])  # verbatim spans
    line = teaching.to_eval_jsonl(filled.get_set("Week 1"), qfile)
    assert json.loads(line) == item
    filled.create_set("Empty")
    with pytest.raises(TeachingError, match="no item"):
        teaching.eval_items(filled.get_set("Empty"), qfile)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "etc-passwd.md"),
        ("..", "teaching-set.md"),
        ("Week 1: CRPS & PLP", "Week-1-CRPS-PLP.md"),
        ("Ketamine – dosing ✓", "Ketamine-dosing.md"),
        ("/abs/path\\win", "abs-path-win.md"),
        ("<script>", "script.md"),
    ],
)
def test_export_file_names_are_sanitised(name, expected):
    assert teaching.safe_filename(name, "md") == expected


def test_write_export_stays_in_its_folder(store, lines, tmp_path):
    store.add_item("../../evil", "q?", [passage(lines[0], 1)], correct_passage_id=None)
    ts = store.get_set("../../evil")
    out = tmp_path / "out"
    for kind in ("markdown", "csv", "json"):
        path = teaching.write_export(ts, kind, out)
        assert path.parent == out and not path.name.startswith(".")
    assert sorted(p.name for p in out.iterdir()) == ["evil.csv", "evil.json", "evil.md"]
    assert (out / "evil.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for spreadsheets
    with pytest.raises(InputError, match="unknown export format"):
        teaching.export_text(ts, "pdf")


# -- damage --------------------------------------------------------------------------------------


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


def test_garbage_database_is_kept_as_backup(tmp_path):
    path = tmp_path / teaching.DB_NAME
    path.write_bytes(b"this is not a database at all\n" * 50)
    store = TeachingStore(path)
    assert store.list_sets() == []
    assert re.search(r"kept as teaching\.sqlite3\.corrupt-", store.pop_notice())
    backups = [p for p in _backups(path) if not p.name.endswith(("-wal", "-shm"))]
    assert len(backups) == 1
    assert backups[0].read_bytes() == b"this is not a database at all\n" * 50  # never lost
    assert store.list_sets() == []  # a new, empty database is in use
    store.create_set("Fresh")
    assert [s.name for s in TeachingStore(path).list_sets()] == ["Fresh"]


def test_damaged_pages_are_detected_and_kept(tmp_path, lines):
    path = tmp_path / teaching.DB_NAME
    store = TeachingStore(path)
    for n in range(30):
        store.add_item("Big", f"question {n}?", [passage(lines[n % 4], n)])
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    raw = bytearray(path.read_bytes())
    page = 4096
    raw[page : len(raw)] = b"\xa5" * (len(raw) - page)  # keep the header, wreck every page
    path.write_bytes(bytes(raw))
    damaged = TeachingStore(path)
    assert damaged.list_sets() == []  # nothing readable survived this much damage
    assert "kept as" in damaged.pop_notice()
    assert len([p for p in _backups(path) if not p.name.endswith(("-wal", "-shm"))]) == 1
    assert TeachingStore(path).list_sets() == []


def test_foreign_sqlite_file_is_not_reused(tmp_path):
    path = tmp_path / teaching.DB_NAME
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE sets (whatever TEXT)")
    con.commit()
    con.close()
    store = TeachingStore(path)
    assert store.list_sets() == []
    assert "not a teaching-set table" in store.pop_notice()
    assert len(_backups(path)) == 1


def test_multi_line_highlights_are_bolded_line_by_line():
    from ketaqa.teaching import bold_lines

    text = "“In summary, ketamine should not be used in patients with\n\n- poorly controlled x"
    assert bold_lines(text) == (
        "**“In summary, ketamine should not be used in patients with**\n\n- **poorly controlled x**"
    )


def test_update_item_question(filled):
    item = filled.get_set("Week 1").items[0]
    filled.update_item(item.id, question="  Who should   not get ketamine? ")
    assert filled.get_set("Week 1").items[0].question == "Who should not get ketamine?"
    with pytest.raises(InputError, match="empty"):
        filled.update_item(item.id, question="   ")
    assert filled.get_set("Week 1").items[0].question == "Who should not get ketamine?"


def test_student_handout_has_no_answer_marks_and_the_key_has_them(filled):
    ts = filled.get_set("Week 1")
    source = "Faculty of Pain Medicine, ANZCA. Position Statement on ketamine. April 2022"
    student = teaching.export_text(ts, "student", notice="Not prescriptive.", source=source)
    key = teaching.export_text(ts, "markdown", notice="Not prescriptive.", source=source)
    for md in (student, key):
        assert f"Source: {source}" in md
        refs = md.split("## References", 1)[1]
        assert (
            "[10.1097/AAP.0000000000000808](https://doi.org/10.1097/AAP.0000000000000808)" in refs
        )
        assert "[29870457](https://pubmed.ncbi.nlm.nih.gov/29870457/)" in refs
    assert "correct answer" not in student and "Start here" not in student
    assert "**" not in student.split("## References")[0]  # no bolded highlight
    assert key.count("— correct answer") == 1 and "**Note:** Start here" in key
    for item in ts.items:
        for p in item.passages:
            for line in p.text.splitlines():
                assert line.strip() in student  # passages verbatim


def test_printable_html_handouts(filled):
    ts = filled.get_set("Week 1")
    page = teaching.export_text(ts, "html", source="The statement, April 2022")
    key = teaching.export_text(ts, "html-key", source="The statement, April 2022")
    assert page.startswith("<!doctype html>") and "@media print" in page
    assert "Student handout" in page and "Answer key" in key
    assert "correct answer" not in page and "<mark>" not in page and "Start here" not in page
    assert "— correct answer" in key and "<mark>" in key and "Start here" in key
    assert 'href="https://doi.org/10.1097/AAP.0000000000000808"' in page
    assert "The statement, April 2022" in page


def test_export_file_names_per_kind(filled, tmp_path):
    ts = filled.get_set("Week 1")
    names = {
        k: teaching.write_export(ts, k, tmp_path).name for k in ("student", "html", "html-key")
    }
    assert names == {
        "student": "Week-1-student.md",
        "html": "Week-1-student.html",
        "html-key": "Week-1-answer-key.html",
    }
