"""The load test harness: bounded, loopback-only, counts every request and error."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ketaqa.errors import InputError
from ketaqa.tools.loadtest import check_loopback, run_load
from ketaqa.tools.net import free_port

pytestmark = pytest.mark.slow


def test_only_loopback_targets():
    check_loopback("http://127.0.0.1:7860/")
    check_loopback("http://localhost:7860/")
    with pytest.raises(InputError):
        check_loopback("http://10.0.0.5:7860/")


def test_concurrent_clients_get_answers_without_errors(assistant, settings, tmp_path):
    from ketaqa.apps.ui import app as ui

    app = ui.build_app(assistant, replace(settings, data_dir=tmp_path))
    port = free_port()
    ui.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        result = run_load(
            f"http://127.0.0.1:{port}/",
            ["What is a position statement?", "Oral ketamine dose?"],
            clients=3,
            seconds=3,
        )
    finally:
        app.close()
    assert result.errors == 0, result.error_samples
    assert result.requests > 0 and result.p95_ms >= result.p50_ms > 0


def test_wrk_posts_to_the_json_api_without_errors(assistant, settings, tmp_path):
    import shutil

    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed; apt-get install wrk (make test does it as root)")
    from ketaqa.apps.ui import app as ui
    from ketaqa.tools.httpload import run_wrk

    app = ui.build_app(assistant, replace(settings, data_dir=tmp_path))
    port = free_port()
    api = ui.json_api(assistant, settings.server)
    ui.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True, api=api)
    try:
        questions = ["What is a position statement?", "Oral ketamine dose?"]
        result = run_wrk(f"http://127.0.0.1:{port}/api/ask", questions, connections=4, seconds=3)
    finally:
        app.close()
    assert result.errors == 0
    assert result.requests > 0 and result.p99_ms >= result.p95_ms >= result.p50_ms > 0
    with pytest.raises(InputError):
        run_wrk("http://192.0.2.1:80/api/ask", questions, seconds=1)
