"""Property-based check of the ask path: arbitrary text is answered or explained, never a crash.
(The tokenizer, splitters and question check: tests/unit/test_text_properties.py.)"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketaqa.errors import InputError


@pytest.mark.slow
@given(st.text(min_size=1, max_size=300))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_ask_answers_or_explains(assistant, text):
    try:
        answer = assistant.ask(text, top_k=3)
    except InputError as exc:
        assert str(exc)
    else:
        assert isinstance(answer.answerable, bool)
        for rp in answer.passages:
            assert rp.highlight_text in rp.passage.text
