"""image.* checks against recorded `docker image inspect` data (tests/unit/grader/data) and a FakeContext.

web_good: FROM python:3.11-slim with LABEL, ENV APP_HOME/PORT, useradd app, WORKDIR /app, COPY app.py,
VOLUME /data, EXPOSE 8000, USER app, ENTRYPOINT ["python3"], CMD ["app.py"].
shell_cmd: FROM busybox, WORKDIR /srv, CMD python app.py (shell form).
"""

from __future__ import annotations

import http.server

import pytest

from dockyard.errors import DockerAPIError, ImageNotFound
from tests.unit.grader.fakes import local_http_server, FakeContext, load_data, run_check


@pytest.fixture
def ctx():
    return FakeContext(images={"web": load_data("web_good"), "shell": load_data("shell_cmd"),
                               "python:3.11-slim": load_data("python_3.11_slim"), "busybox": load_data("busybox")},
                       histories={"web": load_data("web_good_history")})


def check(ctx, name, /, **params):
    return run_check(f"image.{name}", ctx, **params)


def failed(outcome, reason):
    assert not outcome.passed, outcome
    assert outcome.reason == reason, outcome
    assert outcome.hint, outcome
    return outcome


def test_missing_image_propagates(ctx):
    with pytest.raises(ImageNotFound):
        check(ctx, "user", image="nope:1")


# --- configuration ---------------------------------------------------------------------------------

def test_user(ctx):
    o = check(ctx, "user", image="web")
    assert o.passed and "`app`" in o.message
    assert check(ctx, "user", image="web", equals="app").passed
    o = failed(check(ctx, "user", image="shell"), "root")
    assert "root (Config.User is empty)" in o.message and "non-root" in o.message
    assert "USER app" in o.hint
    o = failed(check(ctx, "user", image="web", equals="www-data"), "wrong_user")
    assert "`app`" in o.message and "`www-data`" in o.message and "USER www-data" in o.hint
    assert check(ctx, "user", image="python:3.11-slim", not_root=False).passed


@pytest.mark.parametrize("user", ["root", "0", "0:0", "root:root"])
def test_user_root_spellings(ctx, user):
    data = load_data("web_good")
    data["Config"]["User"] = user
    failed(check(FakeContext(images={"x": data}), "user", image="x"), "root")


def test_exposed_ports(ctx):
    assert check(ctx, "exposed_ports", image="web", ports=[8000]).passed
    assert check(ctx, "exposed_ports", image="web", ports=["8000/tcp"]).passed
    o = failed(check(ctx, "exposed_ports", image="web", ports=[8000, 5000]), "not_exposed")
    assert "exposes 8000/tcp" in o.message and "expected 8000/tcp, 5000/tcp" in o.message
    assert o.hint == "add `EXPOSE 5000` to the Dockerfile"
    o = failed(check(ctx, "exposed_ports", image="shell", ports=[80]), "not_exposed")
    assert "no ports" in o.message


def test_env(ctx):
    assert check(ctx, "env", image="web", name="APP_HOME", value="/app").passed
    assert check(ctx, "env", image="web", name="PORT").passed
    o = failed(check(ctx, "env", image="web", name="FLASK_ENV", value="production"), "not_set")
    assert "FLASK_ENV=production" in o.message and "ENV FLASK_ENV=production" in o.hint
    o = failed(check(ctx, "env", image="web", name="PORT", value="5000"), "wrong_value")
    assert "'8000'" in o.message and "'5000'" in o.message
    assert o.hint != failed(check(ctx, "env", image="web", name="X"), "not_set").hint


def test_entrypoint_cmd(ctx):
    o = check(ctx, "entrypoint_cmd", image="web", entrypoint=["python3"], cmd=["app.py"])
    assert o.passed and o.evidence == {"entrypoint": ["python3"], "cmd": ["app.py"]}
    assert check(ctx, "entrypoint_cmd", image="web", cmd="app.py").passed
    o = failed(check(ctx, "entrypoint_cmd", image="web", cmd=["server.py"]), "wrong_cmd")
    assert "['app.py']" in o.message and "['server.py']" in o.message and '["server.py"]' in o.hint
    failed(check(ctx, "entrypoint_cmd", image="web", entrypoint=[]), "wrong_entrypoint")


def test_entrypoint_cmd_shell_form(ctx):
    o = failed(check(ctx, "entrypoint_cmd", image="shell"), "shell_form")
    assert "['/bin/sh', '-c', 'python app.py']" in o.message and 'CMD ["python", "app.py"]' in o.message
    assert check(ctx, "entrypoint_cmd", image="shell", exec_form=False).passed


def test_label(ctx):
    o = check(ctx, "label", image="web", key="org.opencontainers.image.authors", value="Ada <ada@example.org>")
    assert o.passed
    o = failed(check(ctx, "label", image="web", key="org.dockyard.lab", value="db"), "wrong_value")
    assert "'web'" in o.message and "'db'" in o.message
    o = failed(check(ctx, "label", image="web", key="version"), "not_set")
    assert "LABEL version=" in o.hint


def test_workdir(ctx):
    assert check(ctx, "workdir", image="web", equals="/app/").passed
    o = failed(check(ctx, "workdir", image="web", equals="/srv"), "wrong_value")
    assert "/app" in o.message and "/srv" in o.message
    o = failed(check(ctx, "workdir", image="python:3.11-slim"), "not_set")
    assert "WORKDIR /app" in o.hint


def test_volumes(ctx):
    assert check(ctx, "volumes", image="web", paths=["/data"]).passed
    o = failed(check(ctx, "volumes", image="web", paths=["/data", "/logs"]), "not_declared")
    assert o.evidence["missing"] == ["/logs"] and "/data" in o.message and '["/logs"]' in o.hint
    failed(check(ctx, "volumes", image="shell", paths=["/data"]), "not_declared")


def test_size(ctx):
    o = check(ctx, "size", image="web", max_mb=250)
    assert o.passed and "184.5 MiB" in o.message
    o = failed(check(ctx, "size", image="web", max_mb=100), "too_big")
    assert "184.5 MiB" in o.message and "at most 100 MiB" in o.message
    assert "slim" in o.hint and "apt" in o.hint and ".dockerignore" in o.hint and "COPY --from" in o.hint


def test_layers(ctx):
    o = check(ctx, "layers", image="web", max=4)
    assert o.passed and "4 layers" in o.message
    o = failed(check(ctx, "layers", image="web", max=2), "too_many_layers")
    assert "4 layers" in o.message and "at most 2" in o.message
    history = o.evidence["history"]
    assert history[0]["created_by"].startswith("/bin/sh -c #(nop)  CMD")
    assert any("useradd" in h["created_by"] for h in history)
    assert history[-1]["size"] == "184.5 MiB"


# --- files -------------------------------------------------------------------------------------------

STAT = "stat -L -c '%a %u %g %U %G' "


def file_ctx(ctx, answers):
    ctx.run_results = answers
    return ctx


def test_file_present_with_mode_owner_contents(ctx):
    file_ctx(ctx, {STAT + "/app/app.py": (0, "644 1000 1000 app app\n"), "cat /app/app.py": (0, "print('hi')\n")})
    o = check(ctx, "file", image="web", path="/app/app.py", mode="644", owner="app:app", contains="print")
    assert o.passed and "mode 644" in o.message and "app:app" in o.message
    (image, cmd), kw = ctx.calls_to("run")[0]
    assert image == "web" and cmd[0] == "stat" and kw["entrypoint"] == [] and kw["user"] == "0"
    assert check(ctx, "file", image="web", path="/app/app.py", owner="1000", mode="0644").passed


def test_file_failures(ctx):
    file_ctx(ctx, {STAT + "/app/app.py": (0, "600 0 0 root root\n"),
                   STAT + "/app/.env": (1, "stat: cannot statx '/app/.env': No such file or directory\n"),
                   "cat /app/app.py": (0, "print('bye')\n")})
    o = failed(check(ctx, "file", image="web", path="/app/.env"), "missing")
    assert "/app/.env does not exist" in o.message and "COPY" in o.hint
    assert check(ctx, "file", image="web", path="/app/.env", exists=False).passed
    o = failed(check(ctx, "file", image="web", path="/app/app.py", exists=False), "present")
    assert ".dockerignore" in o.hint
    o = failed(check(ctx, "file", image="web", path="/app/app.py", mode="644"), "wrong_mode")
    assert "mode 600" in o.message and "expected 644" in o.message and "--chmod=644" in o.hint
    o = failed(check(ctx, "file", image="web", path="/app/app.py", owner="app"), "wrong_owner")
    assert "root:root (0:0)" in o.message and "expected app" in o.message and "--chown=app" in o.hint
    o = failed(check(ctx, "file", image="web", path="/app/app.py", contains="hi'"), "no_match")
    assert "\"hi'\"" in o.message and "bye" in o.message


def test_file_without_stat_falls_back_to_ls(ctx):
    no_stat = DockerAPIError('running x: failed to create shim task: OCI runtime create failed: exec: "stat": '
                             'executable file not found in $PATH: unknown')
    file_ctx(ctx, {STAT + "/bin/tool": no_stat, "ls -ldn /bin/tool": (0, "-rwxr-x--- 1 0 10 5 Jan 1 00:00 /bin/tool\n"),
                   "ls -ld /bin/tool": (0, "-rwxr-x--- 1 root wheel 5 Jan 1 00:00 /bin/tool\n")})
    o = check(ctx, "file", image="web", path="/bin/tool", mode="750", owner="root:wheel")
    assert o.passed, o
    assert o.evidence["gid"] == "10"


def test_file_no_tools_at_all(ctx):
    missing = DockerAPIError('exec: "x": executable file not found in $PATH')
    file_ctx(ctx, lambda image, cmd, **kw: (_ for _ in ()).throw(missing))
    o = failed(check(ctx, "file", image="web", path="/x"), "cannot_inspect")
    assert "neither `stat` nor `ls`" in o.message


# --- commands ----------------------------------------------------------------------------------------

def test_command(ctx):
    file_ctx(ctx, {"python3 --version": (0, "Python 3.11.2\n")})
    o = check(ctx, "command", image="web", command=["python3", "--version"], stdout_contains="3.11")
    assert o.passed and "exited with 0" in o.message
    (_, cmd), kw = ctx.calls_to("run")[0]
    assert cmd == ["python3", "--version"] and kw["entrypoint"] == [] and kw["timeout"] == 30
    assert check(ctx, "command", image="web", command="python3 --version").passed


def test_command_keep_entrypoint_and_user(ctx):
    file_ctx(ctx, {"--version": (0, "Python 3.11.2\n")})
    assert check(ctx, "command", image="web", command=["--version"], keep_entrypoint=True, user="nobody").passed
    (_, _), kw = ctx.calls_to("run")[0]
    assert kw["entrypoint"] is None and kw["user"] == "nobody"


def test_command_failures(ctx):
    file_ctx(ctx, {"false": (1, ""), "echo hi": (0, "hi\n"), "sleep 99": (124, "\n[killed after 2 s]"),
                   "flask run": DockerAPIError('exec: "flask": executable file not found in $PATH')})
    o = failed(check(ctx, "command", image="web", command="false"), "wrong_exit_code")
    assert "exited with 1; expected 0" in o.message
    o = failed(check(ctx, "command", image="web", command="echo hi", stdout_contains="bye"), "no_match")
    assert "'bye'" in o.message and "'hi'" in o.message
    o = failed(check(ctx, "command", image="web", command="sleep 99", timeout=2), "timeout")
    assert "within 2 s" in o.message
    o = failed(check(ctx, "command", image="web", command="flask run"), "not_found")
    assert "`flask` is not installed" in o.hint
    assert check(ctx, "command", image="web", command="false", exit_code=1).passed


def test_other_docker_errors_propagate(ctx):
    file_ctx(ctx, {"true": DockerAPIError("running web: conflict")})
    with pytest.raises(DockerAPIError):
        check(ctx, "command", image="web", command="true")


# --- serving -----------------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/":
            body, code = b"<h1>Hello from Dockyard</h1>", 200
        else:
            body, code = b"not here", 404
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def web_server():
    """A real HTTP server on 127.0.0.1 standing in for the container's published port."""
    with local_http_server(_Handler) as port:
        yield port


def container(port, host_port, running=True, exit_code=0):
    return {"Id": "c0ffee", "Name": "/svc", "State": {"Running": running, "ExitCode": exit_code},
            "Config": {"ExposedPorts": {f"{port}/tcp": {}}},
            "NetworkSettings": {"Ports": {f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]}}}


def serve_ctx(ctx, info, logs=""):
    ctx.services = {"web": info}
    ctx.logs_ = {"c0ffee": logs}
    return ctx


def test_serves(ctx, web_server, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # must be ignored: only 127.0.0.1 is contacted
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    serve_ctx(ctx, container(8000, web_server))
    o = check(ctx, "serves", image="web", port=8000, body_contains="Hello")
    assert o.passed, o
    assert "answered 200" in o.message and o.evidence["status"] == 200
    assert ctx.calls_to("start_service")[0][0] == ("web", 8000)


def test_serves_wrong_status_and_body(ctx, web_server):
    serve_ctx(ctx, container(8000, web_server))
    o = failed(check(ctx, "serves", image="web", port=8000, path="/health"), "wrong_status")
    assert "answered 404; expected 200" in o.message and "not here" in o.message
    assert check(ctx, "serves", image="web", port=8000, path="/health", expect_status=404).passed
    o = failed(check(ctx, "serves", image="web", port=8000, body_contains="Goodbye"), "no_match")
    assert "'Goodbye'" in o.message and "Hello from Dockyard" in o.message


def test_serves_exited(ctx):
    serve_ctx(ctx, container(8000, 1, running=False, exit_code=2),
              logs="Traceback (most recent call last):\nModuleNotFoundError: No module named 'flask'\n")
    o = failed(check(ctx, "serves", image="web", port=8000), "exited")
    assert "exited with code 2" in o.message and "No module named 'flask'" in o.message
    assert o.evidence["exit_code"] == 2 and "flask" in o.evidence["logs"]


def test_serves_no_answer(ctx):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    serve_ctx(ctx, container(8000, free))
    o = failed(check(ctx, "serves", image="web", port=8000, timeout=1), "no_answer")
    assert "within 1 s" in o.message and "expected status 200" in o.message
    assert "0.0.0.0" in o.hint and "8000/tcp" in o.hint
    assert "refused" in o.evidence["last_error"].lower()


def test_serves_start_failed(ctx):
    ctx.services = {"web": DockerAPIError('starting web: OCI runtime create failed: exec: "ufw allow 5000": '
                                          'executable file not found in $PATH')}
    o = failed(check(ctx, "serves", image="web", port=5000), "start_failed")
    assert "ufw allow 5000" in o.message


def test_serve_hints_differ(ctx):
    serve_ctx(ctx, container(8000, 1, running=False))
    a = failed(check(ctx, "serves", image="web", port=8000), "exited").hint
    ctx.services = {"web": DockerAPIError("exec failed")}
    b = failed(check(ctx, "serves", image="web", port=8000), "start_failed").hint
    assert a != b


def test_checks_that_start_containers_stop_at_a_failed_build(ctx):
    from grader.errors import BuildError

    ctx.failed_builds["lab/web"] = BuildError("the build failed at Step 2/2 : RUN false")
    ctx.services = ctx.run_results = lambda *a, **kw: pytest.fail("no container may be started")
    for name, params in (("serves", {"port": 8000}), ("command", {"command": "true"}), ("file", {"path": "/x"})):
        o = check(ctx, name, image="lab/web", **params)
        assert o.reason == "not_built" and "RUN false" in o.message
    assert not ctx.calls_to("run") and not ctx.calls_to("start_service")


def test_command_default_of_an_image_whose_cmd_is_one_string(ctx):
    broken = {**load_data("busybox")}
    broken["Config"] = {**broken["Config"], "Cmd": ["ufw allow 5000"], "Entrypoint": None}
    ctx.images["ufw"] = broken
    file_ctx(ctx, {"": DockerAPIError('exec: "ufw allow 5000": executable file not found in $PATH')})
    o = failed(check(ctx, "command", image="ufw", command=[]), "not_found")
    assert o.message.startswith("the image's default command could not start")
    assert "`ufw allow 5000` is not installed" in o.hint and "one word per array element" in o.hint


def test_command_as_a_user_the_image_does_not_have(ctx):
    file_ctx(ctx, {"id -u": DockerAPIError("unable to find user app: no matching entries in passwd file")})
    o = failed(check(ctx, "command", image="web", command="id -u"), "no_such_user")
    assert "unable to find user app" in o.message and "useradd" in o.hint
