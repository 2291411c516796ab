"""The teacher's JupyterLab (`dockyard course formgrader`): its command line, environment and the autograde refusal."""

from __future__ import annotations

import pytest

from dockyard.errors import DockyardError
from dockyard.lab import LEARNER_CONFIG
from grader.course import teacher, teacher_ext
from grader.course.layout import Course


def test_the_server_serves_the_course_on_loopback_with_formgrader_and_the_refusal(tmp_path):
    cmd = teacher.server_command(Course.at(tmp_path), 8890, False, "t0k")
    assert "--ServerApp.ip=127.0.0.1" in cmd and f"--ServerApp.root_dir={tmp_path}" in cmd
    assert "--IdentityProvider.token=t0k" in cmd and "--no-browser" in cmd
    assert "--ServerApp.jpserver_extensions=grader.course.teacher_ext=True" in cmd
    # one port, the one printed: no silent move to another
    assert [a for a in cmd if a.startswith("--ServerApp.port_retries")] == ["--ServerApp.port_retries=0"]


def test_the_teachers_server_drops_the_learner_config_and_any_sandbox(monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", f"{LEARNER_CONFIG}:/etc/extra")
    monkeypatch.setenv("DOCKER_HOST", "unix:///somewhere/docker.sock")
    env = teacher.server_env()
    assert env["JUPYTER_CONFIG_PATH"] == "/etc/extra" and "DOCKER_HOST" not in env
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(LEARNER_CONFIG))
    assert "JUPYTER_CONFIG_PATH" not in teacher.server_env()


def test_a_folder_that_is_no_course_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(DockyardError) as exc:
        teacher.launch(Course.at(tmp_path), port=1, open_browser=False)
    assert "not a course yet" in exc.value.problem and "dockyard course release" in exc.value.fix


def test_the_autograde_refusal_names_the_sealed_command():
    answer = teacher_ext.refusal("05-dockerfile", "bob")
    assert answer["success"] is False
    assert "dockyard grade 05-dockerfile --student bob --force" in answer["error"]


def test_feedback_pages_load_nothing_from_off_this_machine(tmp_path):
    """nbconvert's MathJax macro takes a script from a CDN; the course config puts ours first (it loads nothing),
    and the rest of the page is still nbgrader's own feedback template."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    from grader.course.config import apply

    c = Config()
    apply(c, tmp_path)
    c.HTMLExporter.template_name = "feedback"  # as nbgrader's API sets it
    env = HTMLExporter(config=c).environment
    mathjax = env.get_template("mathjax.html.j2")
    assert "grader/course/templates/feedback" in mathjax.filename
    assert "http" not in mathjax.module.mathjax()
    assert "nbgrader" in env.get_template("index.html.j2").filename


@pytest.mark.parametrize("rel, served", [
    ("reports/05-dockerfile.html", True),
    ("feedback/student-003/05-dockerfile/05-dockerfile.html", True),
    ("reports/05-dockerfile.csv", False),
    ("gradebook.db", False),
    ("source/05-dockerfile/05-dockerfile.ipynb", False),
    ("feedback/student-003/05-dockerfile/secrets.env", False),
    ("feedback/a/b/c/d.html", False),
])
def test_the_teachers_server_serves_only_reports_and_feedback_pages(rel, served):
    import re

    assert bool(re.fullmatch(teacher_ext.PAGES, "/dockyard/course/" + rel)) is served
