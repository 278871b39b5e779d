"""The `make run` flow with abstracts: probe, fetch once, index, serve — against a loopback
E-utilities server answering SYNTHETIC records (tests/fixtures/synthetic_pubmed/), and offline.
"""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from fake_eutils import FIXTURES, FakeEutils, serve

from ketaqa.abstracts.first_run import DONE_MARK, OFFLINE, first_run_fetch
from ketaqa.config import AbstractsSettings, Settings
from ketaqa.errors import KetaqaError
from ketaqa.evaluation.dataset import load_questions, relevant_ids

ABSTRACT_QUESTIONS = FIXTURES / "abstract_questions.jsonl"


def _on(url: str, **changes: object) -> AbstractsSettings:
    return replace(AbstractsSettings(ncbi_email="dev@example.org", eutils_url=url), **changes)


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    root = Path(__file__).resolve().parents[2] / "corpus"
    (corpus / "references.json").write_bytes((root / "references.json").read_bytes())
    return corpus


# ---------------------------------------------------------------------------------------------
# Offline, refused, switched off: one line, nothing fetched, nothing waits past the probe


def test_refused_connection_is_offline_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    said: list[str] = []
    corpus = _corpus(tmp_path)
    result = first_run_fetch(corpus, _on(f"http://127.0.0.1:{port}/"), said.append)
    assert result.outcome == "offline"
    assert said == [OFFLINE]
    assert OFFLINE == "abstracts: not fetched (offline); answering from the statement"
    assert not (corpus / "abstracts").exists()


def test_silent_server_is_probed_once_then_offline(tmp_path, monkeypatch):
    """A host that accepts and never answers: one probe, cut at its timeout, no retries."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(5)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        said: list[str] = []
        result = first_run_fetch(_corpus(tmp_path), _on(url, probe_timeout=0.3), said.append)
        connections = []
        listener.settimeout(0.2)
        try:
            while True:
                connections.append(listener.accept()[0])
        except TimeoutError:
            pass
        for c in connections:
            c.close()
    assert result.outcome == "offline" and said == [OFFLINE]
    assert len(connections) == 1  # the probe, not retried


def test_switched_off_asks_nobody(tmp_path):
    fake = FakeEutils()
    with serve(fake) as url:
        result = first_run_fetch(_corpus(tmp_path), _on(url, fetch_on_index=False))
    assert result.outcome == "off" and fake.requests == []


def test_settings_read_the_switch_and_probe_time():
    env = {"KETAQA_ABSTRACTS": "off", "KETAQA_ABSTRACTS_PROBE_TIMEOUT": "1.5"}
    abstracts = Settings.from_env(env).abstracts
    assert abstracts.fetch_on_index is False and abstracts.probe_timeout == 1.5
    assert Settings.from_env({}).abstracts.probe_timeout == 3.0
    with pytest.raises(KetaqaError, match="KETAQA_ABSTRACTS must be 'on' or 'off'"):
        Settings.from_env({"KETAQA_ABSTRACTS": "maybe"})


# ---------------------------------------------------------------------------------------------
# Online: fetch once, index, serve the abstracts and what they say beside the statement


@pytest.mark.slow
def test_make_run_flow_fetches_indexes_and_serves(fresh_settings, encoder, monkeypatch, capsys):
    from ketaqa.apps.cli import main
    from ketaqa.apps.ui.api import Api
    from ketaqa.pipeline.answering.assistant import Assistant

    corpus = fresh_settings.corpus_dir
    fake = FakeEutils(
        batch=FIXTURES / "first_run_batch.xml",
        citations={
            "bandschapp2015": "90000021",
            "chizh2007": "90000022",
            "elia2005": "90000023",  # deleted from PubMed: NCBI sends a DeleteCitation
            "bell1999": "AMBIGUOUS 90000031,90000032",
        },
    )
    for key, value in {
        "KETAQA_CORPUS_DIR": str(corpus),
        "KETAQA_INDEX_DIR": str(fresh_settings.index_dir),
        "KETAQA_DATA_DIR": str(fresh_settings.data_dir),
        "KETAQA_ABSTRACTS": "on",
        "KETAQA_NCBI_EMAIL": "dev@example.org",
        "KETAQA_NCBI_API_KEY": "synthetic-key",  # 10 requests/s keeps the test short
        "no_proxy": "127.0.0.1,localhost",
    }.items():
        monkeypatch.setenv(key, value)
    with serve(fake) as url:
        monkeypatch.setenv("KETAQA_EUTILS_URL", url)
        assert main(["index"]) == 0
        err = capsys.readouterr().err
        assert "E-utilities answered; fetching the cited abstracts once" in err
        assert "bandschapp2015: found PMID 90000021 by ecitmatch" in err
        assert fake.max_per_second() <= 10
        assert all(p.get("api_key") == "synthetic-key" for _, _, p in fake.requests)
        # Done once: the next run does not ask NCBI again.
        asked = len(fake.requests)
        assert main(["index"]) == 0
        assert len(fake.requests) == asked
    cached = sorted(p.name for p in (corpus / "abstracts").glob("*.xml"))
    assert cached == ["bandschapp2015.xml", "chizh2007.xml", "orhurhu2019.xml"]
    assert (corpus / "abstracts" / DONE_MARK).exists()

    assert main(["abstracts", "status"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["bandschapp2015"].split()[1:4] == ["loaded", "90000021", "ecitmatch"]
    assert rows["chizh2007"].split()[1:4] == ["loaded", "90000022", "ecitmatch"]
    assert rows["orhurhu2019"].split()[1:4] == ["loaded", "31082965", "references.json"]
    assert rows["bell1999"].split()[1:4] == ["missing", "-", "unresolved"]
    assert "ECitMatch: AMBIGUOUS 90000031,90000032" in rows["bell1999"]

    # What the app serves (its API is Assistant.to_json): the statement's words about a
    # study, and beside them the study's own closest sentence, labelled, with its PMID.
    settings = Settings.from_env()
    api = Api(Assistant.open(settings, encoder), None)  # type: ignore[arg-type]
    answer = api.ask("How long did the small effect of ketamine infusions last in Orhurhu 2019?")
    statement = [p for p in answer["passages"] if p["source"] == "statement"]
    cited = [p for p in statement if "orhurhu2019" in p["reference_keys"]]
    assert cited, [p["section"] for p in answer["passages"]]
    evidence = cited[0]["source_evidence"]
    assert [(e["pmid"], e["label"]) for e in evidence] == [("31082965", "RESULTS")]
    assert evidence[0]["text"] == (
        "In this made-up analysis the test infusion gave a small reduction in pain scores "
        "for up to 2 weeks after treatment."
    )
    assert all(p["source_evidence"] == [] for p in answer["passages"] if p["source"] != "statement")

    # `ketaqa ask --json` carries the same field.
    assert (
        main(["ask", "Does perioperative ketamine prevent chronic pain? Bandschapp", "--json"]) == 0
    )
    asked_json = json.loads(capsys.readouterr().out)
    band = [
        p
        for p in asked_json["passages"]
        if p["source"] == "statement" and "bandschapp2015" in p["reference_keys"]
    ]
    assert band and band[0]["source_evidence"][0]["pmid"] == "90000021"
    assert band[0]["source_evidence"][0]["label"] in ("RESULTS", "CONCLUSIONS")

    # The evaluation items answered by abstracts: gated whenever abstracts are present.
    assistant = api.assistant
    items = load_questions(ABSTRACT_QUESTIONS)
    for item in items:
        relevant = relevant_ids(assistant.index.passages, item)
        assert relevant, f"{item.id}: no indexed abstract passage holds its gold span"
        ranked = assistant.ask(item.question, top_k=5).passages
        found = [rp.rank for rp in ranked if rp.passage.id in relevant]
        assert found, f"{item.id}: no relevant abstract passage in the top 5"
        assert {rp.passage.source for rp in ranked if rp.passage.id in relevant} == {"abstract"}
