"""Citations and references in the code and docs resolve (issue 13): every backticked ramcore
name names a real object, every "docs/design.md, section N" a real section, and every relative link
of README.md and docs/*.md a real file. The Sphinx build (-W, in .ci/run) checks the docs' own
cross-references; these are the references it cannot see (code comments, plain backticks)."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *sorted((ROOT / "python").rglob("*.py")),
    *sorted((ROOT / "cpp").rglob("*.[ch]pp")),
    *sorted((ROOT / "tests").glob("*.py")),
    *sorted((ROOT / "benchmarks").glob("*.py")),
]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
needs_checkout = pytest.mark.skipif(not (ROOT / "docs" / "design.md").exists(), reason="needs the repository")


def _resolve(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@needs_checkout
def test_backticked_ramcore_names_resolve():
    pytest.importorskip("torch")  # ramcore.torch names are cited too
    pattern = re.compile(r"`(ramcore(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\(\))?`")
    bad = {}
    for path in SOURCES + PAGES:
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            private = name.split(".")[1] in ("_core", "__main__")  # the extension; the CLI entry
            if not private and not _resolve(name):
                bad.setdefault(name, path.relative_to(ROOT).as_posix())
    assert not bad, f"backticked names that do not exist: {bad}"


@needs_checkout
def test_design_section_citations_resolve():
    headings = re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "design.md").read_text(encoding="utf-8"), re.M)
    cited = re.compile(r"docs/design\.md,? sections? (\d+)(?:\s*[-–]\s*(\d+))?")
    bad = []
    for path in SOURCES + PAGES:
        for first, last in cited.findall(path.read_text(encoding="utf-8")):
            for n in range(int(first), int(last or first) + 1):
                if str(n) not in headings:
                    bad.append(f"{path.relative_to(ROOT)}: section {n}")
    assert headings and not bad, bad


@needs_checkout
def test_relative_links_resolve():
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    bad = []
    for page in PAGES:
        text = re.sub(r"`[^`\n]*`", "", page.read_text(encoding="utf-8"))  # examples in code spans
        for target in link.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                bad.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not bad, bad
