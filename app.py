"""Launch the ketaqa browser app: `python app.py [--host H] [--port P]` = `ketaqa serve`."""

import sys

from ketaqa.apps.cli import main

sys.exit(main(["serve", *sys.argv[1:]]))
