"""How long a lesson takes, and whether it has the course's shape.

The estimate, per lesson notebook (markdown and code cells as stored):

- prose at 150 words a minute (a careful, technical read: about two thirds of the 230-250 wpm of
  everyday reading);
- code at 10 non-blank lines a minute, to read it before running it;
- 15 s for each code cell run and its output looked at;
- 3 min for each self-checked "Try it" (a ``grader.check(...)`` call): reading the task, typing an
  answer, checking it, once more after a hint.

The shape: objectives up front (the first cell says "You will"), key points at the end (a
``## Key points`` section), and every section that runs code ends with its own self-checked try-it,
except set-up and clean-up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

WORDS_PER_MINUTE = 150
CODE_LINES_PER_MINUTE = 10
SECONDS_PER_CELL = 15
MINUTES_PER_TRY_IT = 3
LIMIT_MINUTES = 45
# sections that set the stage or tidy up: no try-it expected
NO_TRY_IT = re.compile(r"^(setting up|set-up|clean up|clean-up|key points|try it|next|what to learn next)\b", re.I)
CHECK_CALL = re.compile(r"grader\.check\(\s*[\"']([\w.-]+)[\"']\s*,\s*task\s*=\s*[\"']([\w.-]+)[\"']")


@dataclass
class Section:
    title: str
    code_cells: int = 0
    checks: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class LessonForm:
    name: str
    words: int
    code_lines: int
    code_cells: int
    checks: list[tuple[str, str]]
    sections: list[Section]
    objectives: bool
    key_points: bool

    @property
    def minutes(self) -> float:
        return (self.words / WORDS_PER_MINUTE + self.code_lines / CODE_LINES_PER_MINUTE
                + self.code_cells * SECONDS_PER_CELL / 60 + len(self.checks) * MINUTES_PER_TRY_IT)

    def problems(self) -> list[str]:
        out = []
        if self.minutes > LIMIT_MINUTES:
            out.append(f"{self.name}: about {self.minutes:.0f} min (words {self.words}, code lines {self.code_lines}, "
                       f"cells {self.code_cells}, try-its {len(self.checks)}); the limit is {LIMIT_MINUTES}")
        if not self.objectives:
            out.append(f"{self.name}: the first cell has no objectives (\"You will\")")
        if not self.key_points:
            out.append(f"{self.name}: no '## Key points' section")
        for s in self.sections:
            if s.code_cells and not s.checks and not NO_TRY_IT.match(s.title):
                out.append(f"{self.name}: section '{s.title}' runs code but has no self-checked try-it")
        return out


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def measure(path: Path) -> LessonForm:
    cells = json.loads(Path(path).read_text())["cells"]
    words = code_lines = code_cells = 0
    checks: list[tuple[str, str]] = []
    sections = [Section("(before the first section)")]
    for cell in cells:
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            words += len(re.findall(r"[\w'’-]+", re.sub(r"```.*?```", "", text, flags=re.S)))
            for line in text.splitlines():
                if line.startswith("## "):
                    sections.append(Section(line[3:].strip()))
        elif cell["cell_type"] == "code":
            code_cells += 1
            code_lines += sum(1 for line in text.splitlines() if line.strip())
            sections[-1].code_cells += 1
            found = CHECK_CALL.findall(text)
            sections[-1].checks += found
            checks += found
    first = _source(cells[0]) if cells else ""
    return LessonForm(name=Path(path).stem, words=words, code_lines=code_lines, code_cells=code_cells,
                      checks=checks, sections=[s for s in sections if s.code_cells or s.title[0] != "("],
                      objectives="you will" in first.lower(),
                      key_points=any(s.title.lower().startswith("key points") for s in sections))
