"""build.* and image.* (and a few dockerfile.*) checks against the real sandbox.

Build contexts are written to tmp_path; every test's Context is cleaned up and
no container labeled org.dockyard.grader may remain. Nothing here contacts any
address but 127.0.0.1.
"""

from __future__ import annotations

import re
import textwrap
import threading
import time

import pytest

from dockyard import buildkit
from grader.context import GRADER_LABEL, Context
from tests.unit.grader.fakes import run_check

APP = """\
import http.server, sys

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from dockyard" if self.path == "/" else b"no such page"
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

host = sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0"
http.server.ThreadingHTTPServer((host, 8000), Hello).serve_forever()
"""

GOOD = """\
FROM python:3.11-slim
LABEL org.opencontainers.image.authors="Ada <ada@example.org>"
ENV APP_HOME=/app PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 1000 app
WORKDIR /app
COPY --chown=app:app app.py /app/app.py
VOLUME ["/data"]
EXPOSE 8000
USER app
ENTRYPOINT ["python3"]
CMD ["app.py"]
"""


def grader_containers(client) -> list[dict]:
    return client.api.containers(all=True, filters={"label": GRADER_LABEL})


@pytest.fixture(params=["buildkit", "classic"])
def ctx(request, sandbox, tmp_path):
    """A context of each builder: BuildKit (the default, where a CLI can use it through the seal), and the classic
    one, its fallback."""
    if request.param == "buildkit" and buildkit.find_cli() is None:
        pytest.skip("no docker CLI before 23 here: grading builds with the classic builder")
    context = Context(sandbox.client, submission=tmp_path, sandbox=sandbox, builder=request.param)
    assert context.builder.name == request.param
    yield context
    context.cleanup()
    assert not grader_containers(sandbox.client)


def write(root, dockerfile: str, **files):
    (root / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    for name, text in files.items():
        (root / name).write_text(text)


def passed(outcome):
    assert outcome.passed, outcome
    return outcome


def test_good_build_and_its_image(ctx, tmp_path, sandbox):
    write(tmp_path, GOOD, **{"app.py": APP, ".dockerignore": ".git\n__pycache__\n"})
    for name, params in [("dockerfile.parses", {}), ("dockerfile.base_image", {"allowed": ["python:3.11-slim"]}),
                         ("dockerfile.exec_form", {}), ("dockerfile.final_user", {}), ("dockerfile.exposes",
                                                                                        {"port": 8000}),
                         ("dockerfile.lint", {}), ("dockerfile.dockerignore", {"must_exclude": [".git"],
                                                                                "must_include": ["app.py"]})]:
        passed(run_check(name, ctx, **params))
    o = passed(run_check("build.succeeds", ctx, tag="lab/web", timeout=120))
    assert o.message.startswith("built lab/web in ")
    log = ctx.builds["lab/web"].log
    assert ("#1 [internal] load build definition from Dockerfile" in log) == ctx.builder.buildkit, log[:300]
    assert re.search(r"\(0 of \d+ steps from cache\)", o.message), o.message
    again = Context(sandbox.client, submission=tmp_path, sandbox=sandbox, builder=ctx.builder.name)
    try:  # the same files again: every step but FROM from the cache
        o = passed(run_check("build.succeeds", again, tag="lab/web"))
        # BuildKit's steps are FROM, RUN, WORKDIR and COPY (the rest is image config); the classic builder's are all
        # eleven instructions and a LABEL step for the grader's labels, which change with every run
        assert ("(3 of 4 steps from cache)" if ctx.builder.buildkit else "(10 of 13 steps from cache)") in o.message, \
            o.message
    finally:
        again.cleanup()
    image = "lab/web"
    passed(run_check("image.user", ctx, image=image, equals="app"))
    passed(run_check("image.exposed_ports", ctx, image=image, ports=[8000]))
    passed(run_check("image.env", ctx, image=image, name="APP_HOME", value="/app"))
    passed(run_check("image.entrypoint_cmd", ctx, image=image, entrypoint=["python3"], cmd=["app.py"]))
    passed(run_check("image.label", ctx, image=image, key="org.opencontainers.image.authors"))
    passed(run_check("image.workdir", ctx, image=image, equals="/app"))
    passed(run_check("image.volumes", ctx, image=image, paths=["/data"]))
    passed(run_check("image.size", ctx, image=image, max_mb=600))
    assert run_check("image.size", ctx, image=image, max_mb=1).reason == "too_big"
    o = passed(run_check("image.layers", ctx, image=image, max=10))
    assert any("useradd" in h["created_by"] for h in o.evidence["history"])

    # files and commands: ENTRYPOINT python3 must not get in the way
    o = passed(run_check("image.file", ctx, image=image, path="/app/app.py", owner="app:app", mode="644",
                         contains="ThreadingHTTPServer"))
    assert o.evidence["uid"] == "1000"
    assert run_check("image.file", ctx, image=image, path="/app/app.py", owner="root").reason == "wrong_owner"
    assert run_check("image.file", ctx, image=image, path="/app/.env").reason == "missing"
    passed(run_check("image.file", ctx, image=image, path="/app/.git", exists=False))
    passed(run_check("image.command", ctx, image=image, command=["python3", "--version"], stdout_contains="Python 3"))
    passed(run_check("image.command", ctx, image=image, command="id -un", stdout_contains="app"))
    passed(run_check("image.command", ctx, image=image, command="id -u", user="0", stdout_contains="0"))
    passed(run_check("image.command", ctx, image=image, command=["-c", "print(6*7)"], keep_entrypoint=True,
                     stdout_contains="42"))
    assert run_check("image.command", ctx, image=image, command="false").reason == "wrong_exit_code"
    assert run_check("image.command", ctx, image=image, command="flask run").reason == "not_found"

    passed(run_check("image.serves", ctx, image=image, port=8000, body_contains="hello from dockyard"))
    assert run_check("image.serves", ctx, image=image, port=8000, path="/nope").reason == "wrong_status"
    ctx.cleanup()
    assert not grader_containers(sandbox.client)
    assert not sandbox.client.images.list(name="dockyard-grade/*")


def test_server_on_localhost_only_gets_no_answer(ctx, tmp_path):
    write(tmp_path, 'FROM python:3.11-slim\nCOPY app.py /app.py\nCMD ["python3", "/app.py", "127.0.0.1"]\n',
          **{"app.py": APP})
    passed(run_check("build.succeeds", ctx, tag="lab/local"))
    o = run_check("image.serves", ctx, image="lab/local", port=8000, timeout=4)  # gives up: no_answer, no hang
    assert o.reason == "no_answer", o
    assert "0.0.0.0" in o.hint


def test_container_that_exits_and_one_that_cannot_start(ctx, tmp_path):
    write(tmp_path, """\
        FROM python:3.11-slim
        CMD ["python3", "-c", "import sys; print('config missing'); sys.exit(3)"]
        """)
    passed(run_check("build.succeeds", ctx, tag="lab/exits"))
    o = run_check("image.serves", ctx, image="lab/exits", port=8000, timeout=10)
    assert o.reason == "exited" and o.evidence["exit_code"] == 3 and "config missing" in o.message
    # the outline's bug: one string in an exec-form array
    write(tmp_path, 'FROM python:3.11-slim\nCMD [ "python3 -m http.server 8000" ]\n')
    assert run_check("dockerfile.exec_form", ctx).reason == "single_string_exec"
    passed(run_check("build.succeeds", ctx, tag="lab/onestring"))
    o = run_check("image.serves", ctx, image="lab/onestring", port=8000, timeout=10)
    assert o.reason == "start_failed" and "python3 -m http.server 8000" in o.message, o


def test_failing_run_reports_its_step(ctx, tmp_path):
    write(tmp_path, "FROM busybox:latest\nRUN echo preparing\nRUN ls /nonexistent-dir\nCMD [\"sh\"]\n")
    o = run_check("build.succeeds", ctx, tag="lab/runfail")
    assert o.reason == "build_failed" and o.evidence["cause"] == "run_failed"
    assert "RUN ls /nonexistent-dir" in o.message and "No such file or directory" in o.message
    assert run_check("image.user", ctx, image="lab/runfail").reason == "not_built"


def test_copy_of_a_missing_file(ctx, tmp_path):
    write(tmp_path, "FROM busybox:latest\nWORKDIR /app\nCOPY requirements.txt /app/\n",
          **{".dockerignore": ".git\n*.txt\n"})
    (tmp_path / "requirements.txt").write_text("flask\n")  # present, but excluded by .dockerignore
    o = run_check("build.succeeds", ctx, tag="lab/copy")
    assert o.reason == "build_failed" and o.evidence["cause"] == "missing_file"
    assert "COPY requirements.txt" in o.message and ".dockerignore" in o.hint
    assert run_check("dockerfile.dockerignore", ctx, must_exclude=[".git"],
                     must_include=["requirements.txt"]).reason == "excludes_needed"


def test_hung_build_times_out_and_leaves_nothing_running(ctx, tmp_path, sandbox):
    write(tmp_path, "FROM busybox:latest\nRUN echo start\nRUN sleep 300\n")
    box = {}

    def build():
        try:
            box["outcome"] = run_check("build.succeeds", ctx, tag="lab/hang", timeout=5)
        except BaseException as exc:  # re-raised below, in the test's thread
            box["error"] = exc

    # a thread, so a timeout that does not work fails this test in 30 s rather than hanging it for 300
    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "build.succeeds(timeout=5) did not return within 30 s: ctx.build's timeout is broken"
    if "error" in box:
        raise box["error"]
    o = box["outcome"]
    assert o.reason == "timeout", o
    assert "RUN sleep 300" in o.message
    deadline = time.monotonic() + 15
    while sandbox.client.containers.list() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not sandbox.client.containers.list(), "the build's container is still running"


def test_command_timeout(ctx, tmp_path):
    write(tmp_path, "FROM busybox:latest\n")
    passed(run_check("build.succeeds", ctx, tag="lab/sleepy"))
    o = run_check("image.command", ctx, image="lab/sleepy", command="sleep 60", timeout=2)
    assert o.reason == "timeout" and "killed after 2 s" in (o.evidence.get("output") or o.message), o


def test_builds_have_no_network(ctx, tmp_path):
    # only a loopback interface, and nothing answers on 127.0.0.1 (nothing else is contacted)
    write(tmp_path, 'FROM busybox:latest\nRUN test "$(ls /sys/class/net)" = "lo"\n'
                    "RUN if wget -q -T 2 -O- http://127.0.0.1:1/; then exit 1; fi\n")
    passed(run_check("build.succeeds", ctx, tag="lab/nonet", timeout=60))
    write(tmp_path, "FROM busybox:latest\nRUN wget -q -T 2 http://127.0.0.1:1/\n")
    o = run_check("build.succeeds", ctx, tag="lab/net", timeout=60)
    assert o.reason == "build_failed" and "wget" in o.message


def test_image_checks_on_busybox_tools(ctx, tmp_path):
    # busybox has its own stat; the ENTRYPOINT is overridden for file checks
    write(tmp_path, 'FROM busybox:latest\nRUN echo secret > /token && chmod 600 /token\nENTRYPOINT ["false"]\n')
    passed(run_check("build.succeeds", ctx, tag="lab/bb"))
    o = passed(run_check("image.file", ctx, image="lab/bb", path="/token", mode="600", owner="root",
                         contains="secret"))
    assert o.evidence["mode"] == "600"
    assert run_check("image.file", ctx, image="lab/bb", path="/token", mode="644").reason == "wrong_mode"
    assert run_check("image.command", ctx, image="lab/bb", command="true", keep_entrypoint=True).reason \
        == "wrong_exit_code"  # false ignores its arguments
    passed(run_check("image.command", ctx, image="lab/bb", command="cat /token", stdout_contains="secret"))
