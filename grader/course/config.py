"""nbgrader settings for a Dockyard course, applied by every ``nbgrader_config.py`` we write.

The course layout (source/release/submitted/autograded/feedback under one root)
is nbgrader's own; only the root, the timeouts, the Execute step of autograde and the
feedback pipeline are ours.
"""

from __future__ import annotations

from pathlib import Path

COURSE_ID = "dockyard"
TEMPLATES = Path(__file__).resolve().parent / "templates"
CELL_TIMEOUT = 120  # seconds for one cell; ``dockyard grade --cell-timeout`` overrides it
HUB_FILE = "dockyard_hub.json"  # in a course folder a hub serves: its exchange and roster

CONFIG_TEMPLATE = '''\
# nbgrader configuration for a Dockyard course (written by `dockyard course release`).
# The settings live in grader/course/config.py so every course folder gets the same ones.
from pathlib import Path

from grader.course.config import apply

apply(get_config(), root=Path(__file__).resolve().parent)
'''


def apply(c, root: str | Path, *, cell_timeout: int = CELL_TIMEOUT) -> None:
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import ClearHiddenTests, DeduplicateIds, Execute, GetGrades

    from .reclaim import ReclaimFolder
    from .trusted import KeepLastOfDuplicateIds, TrustedExecute

    root = Path(root)
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    # the grader's own traces, never handed back as course files
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                                "dockyard-evidence.json", "dockyard-status.json"]
    c.GenerateAssignment.create_assignment = True
    c.Autograde.create_student = True
    c.Execute.timeout = cell_timeout
    c.Execute.interrupt_on_timeout = True
    # nbgrader's autograde pipeline, with Execute replaced by ours: test cells are scored by the
    # grader's process, never by the student's kernel (grader/course/trusted.py)
    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    # ReclaimFolder: the kernel's folder is root's again (its links gone) before nbgrader writes there
    c.Autograde.autograde_preprocessors = [x for s in steps
                                           for x in ((TrustedExecute, ReclaimFolder) if s is Execute else (s,))]
    steps = Autograde.class_traits()["sanitize_preprocessors"].default()
    c.Autograde.sanitize_preprocessors = [KeepLastOfDuplicateIds if s is DeduplicateIds else s for s in steps]
    # Feedback shows every output (each check's message and hint) but strips the code of
    # hidden tests; award() failures render without a code traceback.
    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
    c.ClearHiddenTests.enforce_metadata = False
    # nbgrader's feedback page, found after ours: our templates/feedback/ holds only a mathjax.html.j2 that
    # loads nothing, so a feedback page fetches nothing from off this machine (nbconvert's takes MathJax from a CDN)
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(_nbgrader_templates())]
    # nbgrader's exchange: collect never follows a learner's links nor takes a hand-in under another's name
    c.ExchangeFactory.collect = "grader.course.exchange.SafeCollect"
    hub = root / HUB_FILE  # written by `dockyard hub start --course`: where its exchange and roster are
    if hub.is_file():
        import json

        settings = json.loads(hub.read_text())
        c.Exchange.root = settings["exchange"]
        c.SafeCollect.roster = settings["roster"]


def _nbgrader_templates() -> Path:
    import nbgrader

    return Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"


def write_config(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    target = root / "nbgrader_config.py"
    target.write_text(CONFIG_TEMPLATE)
    return target
