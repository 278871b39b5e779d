"""Front ends: the command line and the browser app."""
