"""The stages from corpus to answer; nothing here imports a front end."""
