"""The layers' import arrows: the sandbox package loads without the grader, and the part of the grader that only
looks at Docker knows nothing of grading. Every import counts, also one inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, relative ones made absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.append((node.lineno, module))
    return found


def arrows(files, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{f.relative_to(ROOT)}:{line}: imports {m}" for f in files for line, m in imports(f)
            if any(m == x or m.startswith(x + ".") for x in forbidden)]


def test_the_sandbox_package_imports_nothing_from_the_grader():
    assert arrows(sorted((ROOT / "dockyard").rglob("*.py")), ("grader",)) == []


@pytest.mark.parametrize("module", ["inspector.py", "workbench.py"])
def test_what_looks_at_docker_and_what_makes_there_know_nothing_of_checks_or_grading(module):
    assert arrows([ROOT / "grader" / module], ("grader.checks", "grader.runner", "grader.session",
                                                "grader.course", "grader.result")) == []


def test_the_reader_of_imports_sees_relative_and_lazy_ones(tmp_path, monkeypatch):
    pkg = ROOT / "dockyard" / "_layers_probe.py"
    text = "from . import errors\n\ndef f():\n    from grader.checks import base\n    import grader\n"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: text if self == pkg else Path.read_bytes(self).decode())
    assert [m for _l, m in imports(pkg)] == ["dockyard", "grader.checks", "grader"]
    assert len(arrows([pkg], ("grader",))) == 2
