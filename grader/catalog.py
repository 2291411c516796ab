"""Where the labs and the lessons' self-checks live, and how a name resolves: one home for every front.

- **Labs**: ``DOCKYARD_LABS`` when set (a course's own copy, or test fixtures), else this checkout's
  ``labs/``. A lab is a folder with a ``lab.yaml``; a *graded* lab also has its nbgrader source notebook
  ``<name>/<name>.ipynb``. Never the current directory: a student's folder cannot offer an easier lab.yaml.
- **Lessons' self-checks**: ``notebooks/checks/<NN-topic>.yaml`` beside the labs folder.
- **Names**: a lab answers to its folder name (``05-dockerfile``), its number (``05``) or its topic
  (``dockerfile``). A lesson's self-checks and a graded lab may share a name: :func:`find` is told
  which one a bare name means ("lesson" in lesson notebooks, "lab" for ``dockyard check``, the pytest
  plugin and grading).

Every front asks here: ``grader.check``/``grader.grade`` and ``dockyard check`` (:func:`grader.spec.find_lab`),
``award()`` in a lab's test cells (:func:`spec_path`), and class grading (:func:`lab_dir`)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def labs_root() -> Path:
    env = os.environ.get("DOCKYARD_LABS")
    return Path(env) if env else REPO / "labs"


def lesson_checks_root(labs: Path | None = None) -> Path:
    return (labs or labs_root()).parent / "notebooks" / "checks"


def labs(root: Path | None = None) -> list[Path]:
    """Every lab folder (a ``lab.yaml``), by name."""
    root = root or labs_root()
    return sorted(d for d in root.iterdir() if (d / "lab.yaml").exists()) if root.is_dir() else []


def graded_labs(root: Path | None = None) -> list[Path]:
    """The labs that nbgrader grades: a ``lab.yaml`` and the source notebook ``<name>.ipynb``."""
    return [d for d in labs(root) if (d / f"{d.name}.ipynb").exists()]


def answers_to(lab: Path, name: str) -> bool:
    number, _, topic = lab.name.partition("-")
    return str(name) in (lab.name, number, topic or lab.name)


class NoSuchLab(LookupError):
    def __init__(self, name: str, root: Path, available: list[Path]):
        self.name, self.root = name, root
        self.available = ", ".join(d.name for d in available) or "none"
        super().__init__(f"no lab called {name!r} (labs in {root}: {self.available})")


def find(name: str | Path, root: Path | None = None, prefer: str = "lesson") -> Path:
    """A lab.yaml's folder or a lesson's checks file, by path or by name (see the module's "Names")."""
    p = Path(name)
    if (p / "lab.yaml").exists() or (p.suffix in (".yaml", ".yml") and p.exists()):
        return p
    root = root or labs_root()
    lesson = lesson_checks_root(root) / f"{name}.yaml"
    matches = [d for d in labs(root) if answers_to(d, str(name))]
    if prefer == "lab" and matches:
        return matches[0]
    if lesson.exists():
        return lesson
    if not matches:
        raise NoSuchLab(str(name), root, labs(root))
    return matches[0]


def lab_dir(name: str, root: Path | None = None) -> Path:
    """A graded lab's folder by name, number or topic."""
    root = root or labs_root()
    for d in graded_labs(root):
        if answers_to(d, name):
            return d
    raise NoSuchLab(name, root, graded_labs(root))


def spec_path(name: str) -> Path:
    """The lab.yaml of the lab of exactly this folder name, for ``award()``: no guessing inside a graded cell."""
    return labs_root() / name / "lab.yaml"
