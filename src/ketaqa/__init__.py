"""ketaqa: extractive, citation-first question answering over the ketamine position statement.

Pipeline, one module per stage:
corpus -> structure -> passages -> index -> retrieve -> answer -> (cli | ui | evaluation)
"""

__version__ = "0.1.0"
