"""Lesson 05's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would: a Dockerfile written into a folder, built and run with the
docker CLI pointed at the sandbox (classic builder, as in the notebook).
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import nbformat
import pytest

import grader

from . import helpers
from .helpers import assert_all_pass, assert_fails

LAB = "05-dockerfiles-and-images"
NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / f"{LAB}.ipynb"
IMAGES = ["try-cmd:fixed", "try-env:fixed", "try-user:1", "try-small:1"]
CONTAINERS = ["try-cmd"]


def docker(box, cmd: str, *, check: bool = True) -> subprocess.CompletedProcess:
    """Run one docker command against the sandbox, as the learner's sh("...") would."""
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **box.env(), "DOCKER_BUILDKIT": "0"})
    if check:
        assert res.returncode == 0, f"`{cmd}` failed ({res.returncode}): {res.stdout}{res.stderr}"
    return res


def build(box, tmp_path: Path, tag: str, dockerfile: str, files: dict[str, str] | None = None) -> None:
    ctx = tmp_path / re.sub(r"[^a-z0-9]+", "-", tag)
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    for rel, text in (files or {}).items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(text)
    docker(box, f"docker build -q -t {tag} {ctx}")


@pytest.fixture
def box(sandbox, tracked):
    """The shared sandbox without this lesson's exercise images and container; removed afterwards too."""
    tracked["containers"].extend(CONTAINERS)
    tracked["images"].extend(IMAGES)
    docker(sandbox, "docker rm -f " + " ".join(CONTAINERS) + " 2>/dev/null; docker image rm -f " + " ".join(IMAGES)
           + " 2>/dev/null; docker pull -q busybox >/dev/null && docker pull -q debian:bookworm-slim >/dev/null"
           + " && docker pull -q python:3.11-slim >/dev/null")
    return sandbox


def grade(box, task: str) -> dict:
    return helpers.grade(box, LAB, task)


def test_every_exercise_cell_is_only_a_commented_hint():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for i, src in enumerate(code):
        if src.startswith(f'grader.check("{LAB}"'):
            hint = code[i - 1]
            assert all(not ln.strip() or ln.lstrip().startswith("#") for ln in hint.splitlines()), hint


def test_nothing_done_fails_every_check_saying_what_is_missing(box):
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert report.score == 0
    for r in report.results:
        assert_fails(r, "missing")
        assert "try-" in r.message, r.message


# --- 1. fix-cmd: try-cmd:fixed, exec form, EXPOSE 5000, run once as try-cmd -------------------------
@pytest.mark.parametrize("lines", [
    'EXPOSE 5000\nCMD ["echo", "port 5000 is exposed"]',
    'EXPOSE 5000\nENTRYPOINT ["echo"]\nCMD ["port", "5000", "is", "exposed"]',
])
def test_fix_cmd_solution_passes(box, tmp_path, lines):
    build(box, tmp_path, "try-cmd:fixed", "FROM busybox\n" + lines + "\n")
    docker(box, "docker rm -f try-cmd 2>/dev/null; docker run --name try-cmd try-cmd:fixed")
    assert_all_pass(grade(box, "fix-cmd"))


def test_the_outlines_single_string_cmd_fails_because_the_container_never_started(box, tmp_path):
    build(box, tmp_path, "try-cmd:fixed", 'FROM busybox\nEXPOSE 5000\nCMD ["ufw allow 5000"]\n')
    res = docker(box, "docker run --name try-cmd try-cmd:fixed", check=False)
    assert res.returncode != 0 and "executable file not found" in res.stderr
    r = grade(box, "fix-cmd")
    assert r["cmd-exposes-5000"].passed and r["cmd-container"].passed
    assert r["cmd-exec-form"].passed  # a one-element array is exec form; running it is what fails
    assert_fails(r["cmd-ran"], "wrong_status", "is created", "expected exited", hint="one word")
    assert_fails(r["cmd-output"], "missing_text", "has logged nothing")


def test_shell_form_cmd_fails_the_exec_form_check_only(box, tmp_path):
    build(box, tmp_path, "try-cmd:fixed", "FROM busybox\nEXPOSE 5000\nCMD echo port 5000 is exposed\n")
    docker(box, "docker run --name try-cmd try-cmd:fixed")
    r = grade(box, "fix-cmd")
    assert_fails(r["cmd-exec-form"], "shell_form", "CMD is in shell form", '["echo", "port", "5000"')
    assert [k for k, v in r.items() if not v.passed] == ["cmd-exec-form"]


def test_missing_expose_fails_naming_the_port(box, tmp_path):
    build(box, tmp_path, "try-cmd:fixed", 'FROM busybox\nCMD ["echo", "port 5000 is exposed"]\n')
    docker(box, "docker run --name try-cmd try-cmd:fixed")
    assert_fails(grade(box, "fix-cmd")["cmd-exposes-5000"], "not_exposed", "no ports", "5000/tcp",
                 hint="EXPOSE 5000")


def test_a_container_from_another_image_fails(box, tmp_path):
    build(box, tmp_path, "try-cmd:fixed", 'FROM busybox\nEXPOSE 5000\nCMD ["echo", "port 5000 is exposed"]\n')
    docker(box, "docker run --name try-cmd busybox echo port 5000 is exposed")
    r = grade(box, "fix-cmd")
    assert_fails(r["cmd-container"], "wrong_image", "runs image busybox", "expected try-cmd:fixed")


# --- 2. fix-env: WORKON_HOME=/root/Envs --------------------------------------------------------------
def test_fix_env_solution_passes(box, tmp_path):
    build(box, tmp_path, "try-env:fixed", """
        FROM debian:bookworm-slim
        ENV WORKON_HOME=/root/Envs
        RUN mkdir -p "$WORKON_HOME"
    """)
    assert_all_pass(grade(box, "fix-env"))


def test_the_outlines_run_export_fails_with_the_env_hint(box, tmp_path):
    build(box, tmp_path, "try-env:fixed", """
        FROM debian:bookworm-slim
        RUN export WORKON_HOME=/root/Envs
        RUN mkdir -p /root/Envs
    """)
    r = grade(box, "fix-env")
    assert_fails(r["env-workon-home"], "not_set", "WORKON_HOME is not set", hint="ENV WORKON_HOME=/root/Envs")
    assert r["env-directory"].passed


def test_env_with_a_tilde_fails_explaining_that_env_does_not_expand_it(box, tmp_path):
    build(box, tmp_path, "try-env:fixed", """
        FROM debian:bookworm-slim
        ENV WORKON_HOME=~/Envs
        RUN mkdir -p /root/Envs
    """)
    assert_fails(grade(box, "fix-env")["env-workon-home"], "wrong_value", "'~/Envs'", "'/root/Envs'",
                 hint="~")


def test_env_without_the_directory_fails_with_the_mkdir_hint(box, tmp_path):
    build(box, tmp_path, "try-env:fixed", "FROM debian:bookworm-slim\nENV WORKON_HOME=/root/Envs\n")
    r = grade(box, "fix-env")
    assert r["env-workon-home"].passed
    assert_fails(r["env-directory"], "missing", "/root/Envs does not exist", hint="mkdir -p")


# --- 3. nonroot: try-user:1 ---------------------------------------------------------------------------
@pytest.mark.parametrize("dockerfile", [
    "FROM busybox\nRUN echo 'app:x:10001:10001:app:/app:/bin/sh' >> /etc/passwd\nWORKDIR /app\nUSER app\n",
    "FROM busybox\nWORKDIR /app\nUSER nobody\n",
    "FROM debian:bookworm-slim\nRUN useradd --create-home notes\nUSER notes\nWORKDIR /app\n",
    "FROM busybox\nWORKDIR /app\nUSER 10001\n",
])
def test_nonroot_solution_passes(box, tmp_path, dockerfile):
    build(box, tmp_path, "try-user:1", dockerfile)
    assert_all_pass(grade(box, "nonroot"))


def test_root_and_no_workdir_fail_with_their_hints(box, tmp_path):
    build(box, tmp_path, "try-user:1", 'FROM busybox\nCMD ["sh"]\n')
    r = grade(box, "nonroot")
    assert_fails(r["user-not-root"], "root", "runs as root", hint="USER app")
    assert_fails(r["user-workdir"], "not_set", "no working directory", hint="WORKDIR /app")
    assert r["user-exists"].passed


def test_a_user_that_does_not_exist_is_reported_with_the_create_it_hint(box, tmp_path):
    build(box, tmp_path, "try-user:1", "FROM busybox\nWORKDIR /app\nUSER app\n")
    r = grade(box, "nonroot")
    assert r["user-not-root"].passed  # the configuration says app...
    # ...but no container can start as a user the image lacks: a failure of the learner's image, not the grader's
    assert_fails(r["user-exists"], "no_such_user", "unable to find user app", hint="useradd")


def test_another_workdir_fails_quoting_it(box, tmp_path):
    build(box, tmp_path, "try-user:1", "FROM busybox\nWORKDIR /srv\nUSER nobody\n")
    assert_fails(grade(box, "nonroot")["user-workdir"], "wrong_value", "/srv", "expected /app")


# --- 4. small: under 10 MB, serves 'small' on 8080 -----------------------------------------------------
PAGE = {"www/index.html": "<h1>small and working</h1>\n"}


def test_small_solution_passes(box, tmp_path):
    build(box, tmp_path, "try-small:1", """
        FROM busybox
        COPY www/ /www/
        EXPOSE 8080
        CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
    """, PAGE)
    assert_all_pass(grade(box, "small"))


def test_multi_stage_solution_passes(box, tmp_path):
    build(box, tmp_path, "try-small:1", """
        FROM python:3.11-slim AS build
        RUN mkdir /www && python3 -c "print('<p>small</p>')" > /www/index.html
        FROM busybox
        COPY --from=build /www /www
        CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
    """)
    assert_all_pass(grade(box, "small"))


def test_python_image_serves_but_is_too_big(box, tmp_path):
    build(box, tmp_path, "try-small:1", """
        FROM python:3.11-slim
        COPY www/ /www/
        CMD ["python3", "-m", "http.server", "8080", "--directory", "/www"]
    """, PAGE)
    r = grade(box, "small")
    assert_fails(r["small-size"], "too_big", "expected at most 10 MiB", hint="busybox")
    assert r["small-serves"].passed


def test_httpd_without_foreground_fails_with_the_dash_f_hint(box, tmp_path):
    build(box, tmp_path, "try-small:1", 'FROM busybox\nCOPY www/ /www/\nCMD ["httpd", "-p", "8080", "-h", "/www"]\n',
          PAGE)
    r = grade(box, "small")
    assert r["small-size"].passed
    assert_fails(r["small-serves"], "exited", "exited with code 0", hint="-f")
