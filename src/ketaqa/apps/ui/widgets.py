"""What every tab shares: the stylesheet, the HTML box that uses it, private events."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

CSS = Path(__file__).with_name("style.css").read_text(encoding="utf-8")
# Page-level rules for `launch(css=...)`: the Ask button, the footer, the phone layout.
PAGE_CSS = Path(__file__).with_name("page.css").read_text(encoding="utf-8")

# The page's own events are not part of the API: clients use the named endpoints of api.py.
PRIVATE = {"api_visibility": "private"}


def html_box(value: str = "", elem_id: str | None = None) -> gr.HTML:
    """An HTML component styled by style.css (Gradio scopes `css_template` to the component)."""
    return gr.HTML(value, css_template=CSS, js_on_load=None, elem_id=elem_id)
