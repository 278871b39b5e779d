"""The package tree is the architecture: these checks keep it honest.

- a lower layer never imports a higher one (pipeline < abstracts, teaching < evaluation <
  tools, apps);
- the pipeline is four rooms (documents, indexing, search, answering); a module never imports a
  later room, nor a later module of its own room;
- only `ketaqa.config` reads the environment.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ketaqa"

# What each part may import from ketaqa (besides itself). Front ends sit on top.
ALLOWED = {
    "config": {"errors"},
    "errors": set(),
    "files": set(),
    "progress": set(),
    "text": set(),
    "pipeline": {"config", "errors", "files", "progress", "text"},
    "abstracts": {"config", "errors", "files", "progress", "text", "pipeline"},
    "teaching": {"config", "errors", "files", "progress", "text", "pipeline"},
    "evaluation": {"config", "errors", "files", "progress", "text", "pipeline"},
    "tools": {"config", "errors", "files", "progress", "text", "pipeline", "evaluation"},
    "apps": {
        "config",
        "errors",
        "files",
        "progress",
        "text",
        "pipeline",
        "abstracts",
        "teaching",
        "evaluation",
        "tools",
    },
}

# The pipeline's rooms in reading order, and each room's modules in reading order: a module may
# import an earlier room, or an earlier module of its own room, never a later one.
ROOMS = {
    "documents": [
        "pdf_text",
        "corpus",
        "outline",
        "layout",
        "linking",
        "statement",
        "pubmed_xml",
        "structure_report",
        "structure",
        "bibliography",
        "library",
        "passages",
        "abstract_corpus",
    ],
    "indexing": [
        "tokenizer",
        "embedding",
        "fast_encoder",
        "kept_vectors",
        "encode",
        "index",
        "english",
        "drugs",
    ],
    "search": [
        "vocabulary",
        "shorthand",
        "spelling",
        "question_form",
        "populations",
        "reading",
        "query",
        "bm25",
        "priors",
        "retrieve",
        "backends",
    ],
    "answering": ["verdict", "answer", "source_evidence", "view", "assistant"],
}
ROOM_ORDER = list(ROOMS)


def ketaqa_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ketaqa"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ketaqa"))
    return found


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        yield ".".join(rel.parts), path


def test_no_layer_imports_a_higher_one():
    wrong = []
    for name, path in modules():
        own = part_of(name)
        if own not in ALLOWED:
            continue
        for imported in ketaqa_imports(path):
            other = part_of(imported)
            if other and other != own and other in ALLOWED and other not in ALLOWED[own]:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


def pipeline_place(module: str) -> tuple[int, int] | None:
    """(room, stage) of a pipeline module such as `ketaqa.pipeline.search.retrieve`."""
    bits = module.split(".")
    if len(bits) < 4 or bits[1] != "pipeline" or bits[2] not in ROOMS:
        return None
    stages = ROOMS[bits[2]]
    if bits[3] not in stages:
        return None
    return ROOM_ORDER.index(bits[2]), stages.index(bits[3])


def test_pipeline_is_four_rooms_and_nothing_else():
    loose = [
        path.name
        for path in (PACKAGE / "pipeline").iterdir()
        if path.name not in {"__init__.py", "__pycache__", *ROOMS}
    ]
    assert not loose, f"pipeline/ holds only its rooms: {loose}"


def test_pipeline_stages_import_only_earlier_stages():
    wrong = []
    for name, path in modules():
        if not name.startswith("ketaqa.pipeline.") or name.endswith("__init__"):
            continue
        if name.count(".") < 3:
            continue  # a room's own __init__ is skipped above; nothing else lives at that depth
        place = pipeline_place(name)
        assert place is not None, f"place {name} in ROOMS"
        for imported in ketaqa_imports(path):
            other = pipeline_place(imported)
            if other is not None and other > place:
                wrong.append(f"{name} imports the later {imported}")
    assert not wrong, wrong


def test_only_config_reads_the_environment():
    readers = []
    for name, path in modules():
        if name == "ketaqa.config":
            continue
        text = path.read_text(encoding="utf-8")
        if "os.environ" in text or "getenv(" in text:
            readers.append(name)
    assert not readers, readers
