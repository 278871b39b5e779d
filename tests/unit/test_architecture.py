"""The package tree is the architecture: these checks keep it honest.

- a lower layer never imports a higher one (pipeline < abstracts, teaching < evaluation <
  tools, apps);
- inside the pipeline, a stage never imports a later stage;
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

# The pipeline's stages in reading order; a stage may import only earlier ones.
STAGES = [
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
    "tokenizer",
    "embedding",
    "fast_encoder",
    "encode",
    "index",
    "english",
    "query",
    "bm25",
    "retrieve",
    "verdict",
    "answer",
    "source_evidence",
    "backends",
    "assistant",
]


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


def test_pipeline_stages_import_only_earlier_stages():
    wrong = []
    for name, path in modules():
        if not name.startswith("ketaqa.pipeline.") or name.endswith("__init__"):
            continue
        stage = name.split(".")[2]  # a module, or a sub-package such as `backends`
        assert stage in STAGES, f"place {stage} in STAGES"
        for imported in ketaqa_imports(path):
            bits = imported.split(".")
            later = len(bits) >= 3 and bits[1] == "pipeline" and bits[2] in STAGES
            if later and STAGES.index(bits[2]) > STAGES.index(stage):
                wrong.append(f"{stage} imports the later stage {bits[2]}")
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
