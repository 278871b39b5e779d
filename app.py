"""Launch the ketaqa browser app: `python app.py` (see `ketaqa.ui.main` for --host/--port)."""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from ketaqa.ui import main

main()
