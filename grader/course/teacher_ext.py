"""A Jupyter server extension for the teacher's server (``dockyard course formgrader``).

- formgrader's "autograde" button answers with how to grade instead of running the hand-in;
- ``/dockyard/course/reports/<lab>.html`` and ``/dockyard/course/feedback/<student>/<lab>/<lab>.html`` serve the
  class reports and the students' feedback pages, so the report's links to each feedback page work. Jupyter's
  ``/files/`` serves a page in a sandbox of its own origin, from which a browser sends no Referer, and then refuses
  the link's request as cross-site; these two routes serve only those two kinds of page, sandboxed the same way.

nbgrader's own autograde (``--force``, as formgrader asks for it) first deletes the hand-in's
autograded folder, then would run the student's notebook in a plain kernel as the teacher. Dockyard
grades only in a fresh sealed sandbox, so the button is answered here, before nbgrader touches
anything: the last grades, evidence and feedback stay as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

AUTOGRADE = r"/formgrader/api/submission/([^/]+)/([^/]+)/autograde"


def refusal(lab: str, student: str) -> dict:
    command = f"dockyard grade {lab} --student {student} --force"
    return {"success": False, "log": "",
            "error": (f"Dockyard grades hand-ins only in a fresh sealed sandbox: formgrader's own autograde would run "
                      f"{student}'s code in a plain kernel, as you. Run this instead, then reload this page:\n\n"
                      f"    {command}\n\nThe grades, evidence and feedback of the last run are untouched.")}


class RefuseAutograde(JupyterHandler):
    @web.authenticated
    def post(self, lab: str, student: str) -> None:
        # as formgrader's own handler answers: a JSON text its page parses itself
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(json.dumps(refusal(lab, student)))


PAGES = r"/dockyard/course/(reports/[\w.-]+\.html|feedback/[\w.-]+/[\w.-]+/[\w.-]+\.html)"


class CoursePage(JupyterHandler):
    """A class report or a feedback page of the course this server serves, as a page of its own origin."""

    def initialize(self, root: str) -> None:
        self.root = Path(root).resolve()

    @property
    def content_security_policy(self) -> str:
        # a feedback page holds what a student's code printed: its scripts never run as the teacher
        return super().content_security_policy + "; sandbox allow-scripts"

    @web.authenticated
    def get(self, rel: str) -> None:
        path = (self.root / rel).resolve()
        if ".." in Path(rel).parts or not path.is_relative_to(self.root) or not path.is_file():
            raise web.HTTPError(404, f"no {rel} in this course: run `dockyard grade LAB` (it writes reports and feedback)")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(path.read_bytes())


def _jupyter_server_extension_points():
    return [{"module": "grader.course.teacher_ext"}]


def _load_jupyter_server_extension(serverapp) -> None:
    base = serverapp.web_app.settings["base_url"].rstrip("/")
    # Tornado tries host groups in the order they were added; this one must come before formgrader's
    rules = serverapp.web_app.default_router.rules
    serverapp.web_app.add_handlers(".*$", [(base + AUTOGRADE, RefuseAutograde),
                                           (base + PAGES, CoursePage, {"root": serverapp.root_dir})])
    rules.insert(0, rules.pop(-2))
    serverapp.log.info("dockyard: formgrader's autograde answers with `dockyard grade`")
