"""Per lesson: words, code lines, code cells, self-checked try-its and the estimated minutes.

    python bench/lesson_time.py            # a Markdown table
The estimate's rates are in dockyard/lessonform.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dockyard.lessonform import LIMIT_MINUTES, measure  # noqa: E402

LESSONS = Path(__file__).resolve().parents[1] / "notebooks"


def main() -> None:
    print("| lesson | words | code lines | code cells | try-its | minutes |")
    print("|---|---:|---:|---:|---:|---:|")
    total = 0.0
    for path in sorted(LESSONS.glob("[0-9][0-9]-*.ipynb")):
        f = measure(path)
        total += f.minutes
        flag = "" if f.minutes <= LIMIT_MINUTES else " (over)"
        print(f"| {f.name} | {f.words} | {f.code_lines} | {f.code_cells} | {len(f.checks)} | {f.minutes:.0f}{flag} |")
    print(f"\ntotal {total / 60:.1f} h; limit {LIMIT_MINUTES} min a lesson")


if __name__ == "__main__":
    main()
