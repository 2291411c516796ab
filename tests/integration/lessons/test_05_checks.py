"""Lesson 05's self-checks: each try-it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would: a Dockerfile written into a folder, built and run with the
docker CLI pointed at the sandbox, in the lesson's environment (BuildKit: DOCKER_BUILDKIT=1 and the sandbox's
BuildKit-capable docker first on PATH). The lesson's build() helper is run here against the same sandbox.
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
IMAGES = ["try-cmd:fixed", "try-env:fixed", "try-user:1", "try-small:1", "try-secret:1"]
CONTAINERS = ["try-cmd", "try-stop"]
TOKEN = "API_TOKEN=tok-0508-not-real\n"


def docker(box, cmd: str, *, check: bool = True) -> subprocess.CompletedProcess:
    """Run one docker command against the sandbox, as the learner's sh("...") would, in the lesson's environment."""
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **box.lesson_env()})
    if check:
        assert res.returncode == 0, f"`{cmd}` failed ({res.returncode}): {res.stdout}{res.stderr}"
    return res


def write(tmp_path: Path, tag: str, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    ctx = tmp_path / re.sub(r"[^a-z0-9]+", "-", tag)
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    for rel, text in (files or {}).items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(text)
    return ctx


def build(box, tmp_path: Path, tag: str, dockerfile: str, files: dict[str, str] | None = None,
          flags: str = "") -> Path:
    ctx = write(tmp_path, tag, dockerfile, files)
    docker(box, f"docker build -q {flags} -t {tag} {ctx}")
    return ctx


@pytest.fixture
def box(sandbox, tracked):
    """The shared sandbox without this lesson's exercise images and container; removed afterwards too."""
    tracked["containers"].extend(CONTAINERS)
    tracked["images"].extend(IMAGES)
    docker(sandbox, "docker rm -f " + " ".join(CONTAINERS) + " 2>/dev/null; docker image rm -f " + " ".join(IMAGES)
           + " 2>/dev/null; docker pull -q busybox >/dev/null && docker pull -q debian:bookworm-slim >/dev/null"
           + " && docker pull -q python:3.11-slim >/dev/null")
    return sandbox


def grade(box, task: str, submission: Path | None = None) -> dict:
    """The results of one task by check id; ``submission`` is the build context a check reads."""
    report = grader.grade(grader.find_lab(LAB), sandbox=box, only_tasks=[task], submission=submission)
    assert report.results and all(r.task == task for r in report.results)
    return {r.id: r for r in report.results}


def test_the_lesson_environment_builds_with_buildkit(box):
    env = box.lesson_env()
    assert env["DOCKER_BUILDKIT"] == "1", env.get("DOCKYARD_BUILDER_NOTE")


def test_every_exercise_cell_is_only_a_commented_hint():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for i, src in enumerate(code):
        if src.startswith(f'grader.check("{LAB}"'):
            hint = code[i - 1]
            assert all(not ln.strip() or ln.lstrip().startswith("#") for ln in hint.splitlines()), hint


def test_nothing_done_fails_every_check_saying_what_is_missing(box, tmp_path):
    report = grader.grade(grader.find_lab(LAB), sandbox=box, submission=tmp_path)
    assert report.score == 0
    for r in report.results:
        assert_fails(r, "missing")
        assert "try-" in r.message or "Dockerfile" in r.message, r.message


# --- 1. fix-cmd: try-cmd:fixed, exec form, EXPOSE 5000, run once as try-cmd -------------------------
@pytest.mark.parametrize("lines", [
    'EXPOSE 5000\nCMD ["echo", "port 5000 is exposed"]',
    'EXPOSE 5000\nENTRYPOINT ["echo"]\nCMD ["port", "5000", "is", "exposed"]',
])
def test_fix_cmd_solution_passes(box, tmp_path, lines):
    build(box, tmp_path, "try-cmd:fixed", "FROM busybox\n" + lines + "\n")
    helpers.assert_solution_passes(box, LAB, "fix-cmd",
                                   "docker rm -f try-cmd 2>/dev/null; docker run --name try-cmd try-cmd:fixed",
                                   run=docker)


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
    r = helpers.graded_after(box, LAB, "fix-cmd", "docker run --name try-cmd try-cmd:fixed", run=docker)
    assert_fails(r["cmd-exec-form"], "shell_form", "CMD is in shell form", '["echo", "port", "5000"')
    assert [k for k, v in r.items() if not v.passed] == ["cmd-exec-form"]


def test_missing_expose_fails_naming_the_port(box, tmp_path):
    build(box, tmp_path, "try-cmd:fixed", 'FROM busybox\nCMD ["echo", "port 5000 is exposed"]\n')
    docker(box, "docker run --name try-cmd try-cmd:fixed")
    assert_fails(grade(box, "fix-cmd")["cmd-exposes-5000"], "not_exposed", "no ports", "5000/tcp",
                 hint="EXPOSE 5000")


def test_a_container_from_another_image_fails(box, tmp_path):
    build(box, tmp_path, "try-cmd:fixed", 'FROM busybox\nEXPOSE 5000\nCMD ["echo", "port 5000 is exposed"]\n')
    r = helpers.graded_after(box, LAB, "fix-cmd",
                             "docker run --name try-cmd busybox echo port 5000 is exposed",
                             run=docker)
    assert_fails(r["cmd-container"], "wrong_image", "runs image busybox", "expected try-cmd:fixed")


# --- 2. fix-env: WORKON_HOME=/root/Envs, a relative WORKDIR, no RUN pitfalls (the Dockerfile is read too) ---
@pytest.mark.parametrize("dockerfile", [
    """
        FROM debian:bookworm-slim
        ENV WORKON_HOME=/root/Envs
        RUN mkdir -p "$WORKON_HOME"
        WORKDIR $WORKON_HOME
        WORKDIR env1
    """,
    "FROM debian:bookworm-slim\nENV WORKON_HOME=/root/Envs\nWORKDIR /root/Envs\nWORKDIR env1\n",
])
def test_fix_env_solution_passes(box, tmp_path, dockerfile):
    ctx = build(box, tmp_path, "try-env:fixed", dockerfile)
    assert_all_pass(grade(box, "fix-env", ctx))


def test_the_outlines_run_export_fails_with_the_env_hint_and_the_pitfall(box, tmp_path):
    ctx = build(box, tmp_path, "try-env:fixed", """
        FROM debian:bookworm-slim
        RUN export WORKON_HOME=/root/Envs
        RUN mkdir -p /root/Envs/env1
        WORKDIR /root/Envs/env1
    """)
    r = grade(box, "fix-env", ctx)
    assert_fails(r["env-workon-home"], "not_set", "WORKON_HOME is not set", hint="ENV WORKON_HOME=/root/Envs")
    assert_fails(r["env-no-pitfalls"], "run_export", "line 2", hint="ENV NAME=value")
    assert r["env-directory"].passed and r["env-workdir"].passed


def test_env_with_a_tilde_fails_explaining_that_env_does_not_expand_it(box, tmp_path):
    ctx = build(box, tmp_path, "try-env:fixed", """
        FROM debian:bookworm-slim
        ENV WORKON_HOME=~/Envs
        RUN mkdir -p /root/Envs
    """)
    assert_fails(grade(box, "fix-env", ctx)["env-workon-home"], "wrong_value", "'~/Envs'", "'/root/Envs'",
                 hint="~")


def test_env_without_the_directory_fails_with_the_mkdir_hint(box, tmp_path):
    ctx = build(box, tmp_path, "try-env:fixed", "FROM debian:bookworm-slim\nENV WORKON_HOME=/root/Envs\n")
    r = grade(box, "fix-env", ctx)
    assert r["env-workon-home"].passed
    assert_fails(r["env-directory"], "missing", "/root/Envs does not exist", hint="mkdir -p")
    assert_fails(r["env-workdir"], "not_set", hint="relative WORKDIR")


def test_an_absolute_second_workdir_misses_and_the_hint_explains_relative_ones(box, tmp_path):
    ctx = build(box, tmp_path, "try-env:fixed",
                "FROM debian:bookworm-slim\nENV WORKON_HOME=/root/Envs\nWORKDIR /root/Envs\nWORKDIR /env1\n")
    assert_fails(grade(box, "fix-env", ctx)["env-workdir"], "wrong_value", "/env1", "/root/Envs/env1",
                 hint="resolved against the WORKDIR before it")


def test_cd_and_source_in_run_fail_the_pitfall_check(box, tmp_path):
    ctx = build(box, tmp_path, "try-env:fixed", """
        FROM debian:bookworm-slim
        ENV WORKON_HOME=/root/Envs
        RUN mkdir -p /root/Envs/env1 && echo 'X=1' > /env.sh
        RUN cd /root/Envs/env1
        RUN source /env.sh || true
        WORKDIR /root/Envs/env1
    """)
    r = grade(box, "fix-env", ctx)
    assert_fails(r["env-no-pitfalls"], "run_cd", "2 RUN pitfall(s)", "source", hint="WORKDIR /path")
    assert [k for k, v in r.items() if not v.passed] == ["env-no-pitfalls"]


def test_fix_env_without_the_folder_says_to_pass_it(box, tmp_path):
    build(box, tmp_path, "try-env:fixed", "FROM debian:bookworm-slim\nENV WORKON_HOME=/root/Envs\n")
    assert_fails(grade(box, "fix-env", tmp_path / "nowhere")["env-no-pitfalls"], "missing",
                 hint='submission=folder("try-env")')


# --- 3. nonroot: try-user:1 ---------------------------------------------------------------------------
REST = "LABEL org.opencontainers.image.authors='Ada <ada@example.org>'\nVOLUME /app/data\n"


@pytest.mark.parametrize("dockerfile", [
    "FROM busybox\nRUN echo 'app:x:10001:10001:app:/app:/bin/sh' >> /etc/passwd\nWORKDIR /app\nUSER app\n" + REST,
    "FROM busybox\nWORKDIR /app\nUSER nobody\n" + REST,
    "FROM debian:bookworm-slim\nRUN useradd --create-home notes\nUSER notes\nWORKDIR /app\n" + REST,
    "FROM busybox\n" + REST + "WORKDIR /app\nUSER 10001\n",
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


def test_maintainer_instead_of_a_label_and_no_volume_fail_with_their_hints(box, tmp_path):
    build(box, tmp_path, "try-user:1", "FROM busybox\nMAINTAINER Ada\nWORKDIR /app\nUSER nobody\n")
    r = grade(box, "nonroot")
    assert_fails(r["user-author"], "not_set", "org.opencontainers.image.authors", hint="MAINTAINER is deprecated")
    assert_fails(r["user-volume"], "not_declared", "/app/data", hint="cannot name a host folder")
    assert r["user-not-root"].passed and r["user-workdir"].passed


def test_a_user_that_does_not_exist_is_reported_with_the_create_it_hint(box, tmp_path):
    build(box, tmp_path, "try-user:1", "FROM busybox\nWORKDIR /app\nUSER app\n" + REST)
    r = grade(box, "nonroot")
    assert r["user-not-root"].passed  # the configuration says app...
    # ...but no container can start as a user the image lacks: a failure of the learner's image, not the grader's
    assert_fails(r["user-exists"], "no_such_user", "unable to find user app", hint="useradd")


def test_another_workdir_fails_quoting_it(box, tmp_path):
    build(box, tmp_path, "try-user:1", "FROM busybox\nWORKDIR /srv\nUSER nobody\n" + REST)
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


# --- 5. stop: docker stop ends sleep by SIGTERM ------------------------------------------------------------
def test_stop_with_init_passes(box):
    helpers.assert_solution_passes(
        box, LAB, "stop",
        "docker run -d --init --name try-stop debian:bookworm-slim sleep 300 && docker stop try-stop",
        run=docker)


def test_stop_without_init_ends_in_sigkill_and_the_hint_says_init(box):
    r = helpers.graded_after(
        box, LAB, "stop",
        "docker run -d --name try-stop debian:bookworm-slim sleep 300 && docker stop -t 1 try-stop",
        run=docker)
    assert_fails(r["stop-sigterm"], "wrong_exit_code", "exited with code 137", "expected exit code 143",
                 hint="docker run --init")
    assert r["stop-image"].passed


def test_a_running_try_stop_is_told_to_stop_it(box):
    docker(box, "docker run -d --init --name try-stop debian:bookworm-slim sleep 300")
    assert_fails(grade(box, "stop")["stop-sigterm"], "still_running", hint="docker stop try-stop")


def test_stop_from_another_image_fails_the_image_check(box):
    docker(box, "docker run -d --init --name try-stop busybox sleep 300 && docker stop try-stop")
    assert_fails(grade(box, "stop")["stop-image"], "wrong_image", "busybox", "debian:bookworm-slim")


# --- 6. secret: a secret mount, no trace -------------------------------------------------------------------
SECRET_RUN = "RUN --mount=type=secret,id=api grep -q API_TOKEN /run/secrets/api && echo token-seen > /status\n"


def test_secret_mount_solution_passes(box, tmp_path):
    ctx = write(tmp_path, "try-secret", "FROM busybox\n" + SECRET_RUN, {"api.env": TOKEN, ".dockerignore": "api.env\n"})
    docker(box, f"docker build --secret id=api,src={ctx}/api.env -t try-secret:1 {ctx}")
    assert_all_pass(grade(box, "secret", ctx))


def test_the_token_as_a_build_arg_is_found_in_the_history(box, tmp_path):
    ctx = write(tmp_path, "try-secret", 'FROM busybox\nARG API_TOKEN\nRUN test -n "$API_TOKEN" && echo token-seen > /status\n',
                {"api.env": TOKEN})
    docker(box, f"docker build --build-arg API_TOKEN=tok-0508-not-real -t try-secret:1 {ctx}")
    assert "tok-0508-not-real" in docker(box, "docker history --no-trunc try-secret:1").stdout  # what the lesson shows
    r = grade(box, "secret", ctx)
    assert r["secret-used"].passed
    assert_fails(r["secret-not-kept"], "in_config", "history", hint="docker history shows it")
    assert "tok-0508-not-real" not in r["secret-not-kept"].message  # the value is never quoted


def test_the_file_copied_in_and_deleted_later_is_still_in_its_layer(box, tmp_path):
    ctx = write(tmp_path, "try-secret", "FROM busybox\nCOPY api.env /tmp/\nRUN grep -q API_TOKEN /tmp/api.env && "
                "echo token-seen > /status\nRUN rm /tmp/api.env\n", {"api.env": TOKEN})
    docker(box, f"docker build -t try-secret:1 {ctx}")
    assert_fails(grade(box, "secret", ctx)["secret-not-kept"], "deleted_later", "/tmp/api.env", hint=".dockerignore")


def test_a_build_that_never_read_the_secret_fails_the_status_check(box, tmp_path):
    ctx = write(tmp_path, "try-secret", "FROM busybox\nRUN echo nothing > /status\n", {"api.env": TOKEN})
    docker(box, f"docker build -t try-secret:1 {ctx}")
    r = grade(box, "secret", ctx)
    assert_fails(r["secret-used"], "no_match", "token-seen")
    assert r["secret-not-kept"].passed


# --- the lesson's build() helper, for real ---------------------------------------------------------------
def test_build_helper_follows_a_real_buildkit_build(box, tmp_path, monkeypatch, capsys):
    from dockyard.notebook.builds import build as lesson_build

    for key, value in {**box.lesson_env(), "DOCKYARD_SANDBOX": box.name}.items():
        monkeypatch.setenv(key, value)
    ctx = write(tmp_path, "try-small", """
        FROM busybox AS page
        RUN mkdir /www && echo small > /www/index.html
        FROM page AS test
        RUN grep -q small /www/index.html && echo test passed
        FROM busybox
        COPY --from=page /www /www
    """)
    first = lesson_build(f"docker build -t try-small:1 {ctx}")
    assert {s.stage for s in first.steps.values()} == {"page", "stage-2"}  # the test stage is not built
    assert first.image_id and docker(box, "docker image inspect -f '{{.Id}}' try-small:1").stdout.strip() == first.image_id
    again = lesson_build(f"docker build -t try-small:1 {ctx}")
    assert {s.instruction for s in again.cached} >= {"RUN mkdir /www && echo small > /www/index.html",
                                                      "COPY --from=page /www /www"}
    test = lesson_build(f"docker build --target test -t try-small:1 {ctx}", show="output")
    assert any(s.stage == "test" and s.output == ["test passed"] for s in test.steps.values())
    assert "    test passed\n" in capsys.readouterr().out
    broken = write(tmp_path, "try-cmd", "FROM busybox\nRUN echo failing && false\n")
    with pytest.raises(Exception, match="exit code: 1") as err:
        lesson_build(f"docker build -t try-cmd:fixed {broken}")
    assert "failing" in err.value.output


# --- the lesson's measuring helpers, for real: what its tables claim ----------------------------------
@pytest.fixture
def lesson_kernel(box, monkeypatch, tmp_path):
    """This process as the lesson's kernel: the lesson environment, its own folder of build contexts."""
    from dockyard.notebook import dockerfiles

    for key, value in {**box.lesson_env(), "DOCKYARD_SANDBOX": box.name, "TMPDIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(dockerfiles.tempfile, "tempdir", None)
    monkeypatch.setattr(dockerfiles, "_WORK", None)
    yield dockerfiles
    dockerfiles.clean_up()


def test_pid1_table_measures_who_is_pid_1_in_shell_and_exec_form(lesson_kernel):
    table = lesson_kernel.pid1_table([
        ("busybox", "CMD sleep 100", ""),
        ("debian:bookworm-slim", "CMD sleep 100", ""),
        ("debian:bookworm-slim", "CMD exec sleep 100", ""),
        ("debian:bookworm-slim", 'ENTRYPOINT ["sleep"]\nCMD ["100"]', "200"),
        ("debian:bookworm-slim", 'CMD ["echo", "first"]\nCMD ["sleep", "100"]', ""),
    ])
    rows = [dict(zip(table.headers, r)) for r in table.rows]
    assert rows[0]["Config.Cmd"] == '["/bin/sh", "-c", "sleep 100"]' and rows[0]["PID 1"] == "sleep 100"  # busybox execs
    assert rows[1]["PID 1"] == "/bin/sh -c sleep 100" and "sleep 100" in rows[1]["other processes"]  # dash does not
    assert rows[2]["PID 1"] == "sleep 100"
    assert rows[3]["PID 1"] == "sleep 200"  # run arguments replace CMD after an exec-form ENTRYPOINT
    assert rows[4]["Config.Cmd"] == '["sleep", "100"]'  # only the last CMD counts
    left = docker(lesson_kernel.sandbox(), "docker ps -a --format '{{.Names}}'").stdout.split()
    assert not [n for n in left if n.startswith("d5-")], left  # each container is removed once measured


def test_stop_table_reads_how_each_container_ended(lesson_kernel, tmp_path):
    sig = lesson_kernel.context("sig", 'FROM python:3.11-slim\nCOPY server.py /\nCMD ["python3", "/server.py"]\n', {
        "server.py": "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
                     "print('ready', flush=True)\ntime.sleep(600)\n"})
    docker(lesson_kernel.sandbox(), f"docker build -q -t d5-sig:1 {sig}")
    table = lesson_kernel.stop_table([("handler", "d5-sig:1"), ("dash", "d5-sig:1 sh -c 'python3 /server.py'"),
                                      ("init", "--init busybox sleep 600")], grace=1)
    rows = {r[0]: r for r in table.rows}
    assert rows["handler"][1] == "python3 /server.py" and rows["handler"][3] == "0"
    assert rows["dash"][1] == "sh -c python3 /server.py" and rows["dash"][3] == "137"
    assert rows["init"][1].startswith("/sbin/docker-init -- sleep") and rows["init"][3] == "143"


def test_landed_finds_each_instruction_in_the_image(lesson_kernel):
    ctx = lesson_kernel.context("tour", """
        FROM busybox
        ARG VERSION=dev
        LABEL org.opencontainers.image.version=$VERSION
        ENV APP_VERSION=$VERSION
        WORKDIR /srv
        WORKDIR app
        RUN pwd > made-in.txt
        EXPOSE 8080
        USER nobody
        VOLUME /srv/app/data
    """)
    docker(lesson_kernel.sandbox(), f"docker build -q --build-arg VERSION=1.0 -t d5-tour:1 {ctx}")
    rows = {r[0]: r[2] for r in lesson_kernel.landed("d5-tour:1", "busybox").rows}
    assert rows["WORKDIR"] == "/srv/app" and rows["USER"] == "nobody"
    assert '"org.opencontainers.image.version": "1.0"' in rows["LABEL"] and "APP_VERSION=1.0" in rows["ENV"]
    assert "VERSION=1.0" in rows["RUN, COPY, ADD"]  # the ARG's value, recorded with the RUN
    assert rows["EXPOSE"] == '{"8080/tcp": {}}' and rows["VOLUME"] == '{"/srv/app/data": {}}'
