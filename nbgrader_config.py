# nbgrader configuration for this repository's course (course/ beside this file, or $DOCKYARD_COURSE).
# `nbgrader formgrader`, `nbgrader generate_feedback` and friends read it when started here;
# `dockyard course release` writes the same settings into the course folder itself.
import os
from pathlib import Path

from grader.course.config import apply

apply(get_config(), root=os.environ.get("DOCKYARD_COURSE") or Path(__file__).resolve().parent / "course")
