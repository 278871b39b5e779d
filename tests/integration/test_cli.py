"""The CLI contract: `ketaqa index | ask`, JSON shape, readable output and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ketaqa.apps.cli import main

pytestmark = pytest.mark.slow  # every test here loads the embedding model

PASSAGE_KEYS = {
    "rank": int,
    "id": str,
    "text": str,
    "highlight": str,
    "section": str,
    "source": str,
    "citation": str,
    "score": float,
}


@pytest.fixture
def env(monkeypatch, settings, assistant):
    """Point the CLI at the session's corpus and its already-built index."""
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("KETAQA_DATA_DIR", str(settings.data_dir))
    return settings


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def check_contract(obj: dict, top_k: int) -> None:
    assert set(obj) >= {"question", "answerable", "passages"}
    assert isinstance(obj["answerable"], bool)
    assert len(obj["passages"]) == top_k
    for rank, p in enumerate(obj["passages"], start=1):
        for key, kind in PASSAGE_KEYS.items():
            assert isinstance(p[key], kind), key
        assert p["rank"] == rank
        assert p["page"] is None or isinstance(p["page"], int)
        for key in ("reference_key", "doi", "pmid"):
            assert p[key] is None or isinstance(p[key], str)
        assert p["highlight"] in p["text"]


def test_ask_json_contract(env, capsys):
    code, out, _ = run(
        capsys, "ask", "What are the contraindications to ketamine?", "--json", "--top-k", "3"
    )
    assert code == 0
    obj = json.loads(out)
    check_contract(obj, 3)
    top = obj["passages"][0]
    assert top["reference_key"] == "cohen2018"
    assert top["doi"] == "10.1097/AAP.0000000000000808" and top["pmid"] == "29870458"
    assert top["citation"].startswith("Cohen SP")
    assert "(ii) contraindications" in top["section"]


def test_ask_file_writes_json_lines_in_order(env, capsys, tmp_path):
    questions = ["Which drug did the A-1 review study?", "", "  ", "What is a guideline?"]
    path = tmp_path / "q.txt"
    path.write_text("\n".join(questions), encoding="utf-8")
    code, out, _ = run(capsys, "ask", "--file", str(path), "--json", "--top-k", "2")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [o["question"] for o in lines] == [
        "Which drug did the A-1 review study?",
        "What is a guideline?",
    ]
    for obj in lines:
        check_contract(obj, 2)


def test_readable_output_marks_the_highlight(env, capsys):
    code, out, _ = run(capsys, "ask", "minimum dose for a first outpatient infusion")
    assert code == 0
    assert "[1] Section I" in out and ">>>" in out and "<<<" in out
    assert "not prescriptive" in out


def test_unanswerable_question_says_so(env, capsys):
    code, out, _ = run(capsys, "ask", "What dose of amitriptyline prevents migraine?", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["answerable"] is False and obj["passages"]


def test_index_command_reports_up_to_date(env, capsys):
    code, _, err = run(capsys, "index")
    assert code == 0 and "up to date" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ask", ""], "empty"),
        (["ask", "   "], "empty"),
        (["ask", "x" * 2001], "limit is 2000"),
        (["ask", "dose\x00of ketamine"], "control"),
        (["ask", "dose\x1b[31m"], "control"),
        (["ask", "???"], "no words"),
        (["ask", "dose", "--top-k", "0"], "top-k"),
        (["ask", "dose", "--top-k", "-3"], "top-k"),
        (["ask"], "give a question"),
        (["ask", "--file", "/nonexistent/q.txt", "--json"], "not found"),
    ],
)
def test_bad_input_is_one_clear_line(env, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_non_utf8_questions_file(env, capsys, tmp_path):
    path = tmp_path / "q.txt"
    path.write_bytes(b"what dose\n\xff\xfe bad bytes\n")
    code, _, err = run(capsys, "ask", "--file", str(path), "--json")
    assert code != 0 and "not UTF-8" in err


def test_bad_line_in_questions_file_names_the_line(env, capsys, tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("good question about dose\n" + "y" * 3000 + "\n", encoding="utf-8")
    code, _, err = run(capsys, "ask", "--file", str(path), "--json")
    assert code != 0 and "line 2" in err


def test_bad_input_writes_nothing_to_the_index(env, capsys):
    before = sorted(p.name for p in (env.index_dir / "builds").iterdir())
    run(capsys, "ask", "")
    assert sorted(p.name for p in (env.index_dir / "builds").iterdir()) == before


def test_real_process_exits_nonzero_without_traceback(env):
    proc = subprocess.run(
        [sys.executable, "-m", "ketaqa.apps.cli", "ask", "", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("ketaqa: error:") and "Traceback" not in proc.stderr
