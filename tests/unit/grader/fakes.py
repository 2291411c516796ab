"""A stand-in for grader.context.Context that answers from recorded data (no daemon).

    ctx = FakeContext(images={"web": load_data("web_good")},
                      run_results={"stat -c %a %u %g %U %G /app/app.py": (0, "644 0 0 root root\\n")},
                      submission=tmp_path)

Answers for ``run``, ``exec``, ``build`` and ``start_service`` may be a dict (keyed
by the command joined with spaces, or by image / tag / container name), a list
(answered in order) or a callable taking the same arguments as the real method.
Every call is appended to ``ctx.calls`` as ``(method, args, kwargs)``.
"""

from __future__ import annotations

import contextlib

import json
import shlex
from pathlib import Path

from dockyard.errors import ContainerNotFound, ImageNotFound, docker_errors
from grader.inspector import READ_CAP, Inspector

DATA = Path(__file__).parent / "data"


def load_data(name: str):
    """A recorded inspect/history dict from tests/unit/grader/data/<name>.json (a fresh copy each call)."""
    return json.loads((DATA / f"{name}.json").read_text())


def _key(cmd) -> str:
    if cmd is None:
        return ""
    return cmd if isinstance(cmd, str) else shlex.join(cmd)


def _answer(table, key, what, *args, **kwargs):
    if callable(table):
        return table(*args, **kwargs)
    if isinstance(table, list):
        if not table:
            raise AssertionError(f"FakeContext: no more recorded answers for {what} ({key!r})")
        return table.pop(0)
    if table is None or key not in table:
        raise AssertionError(f"FakeContext: no recorded answer for {what} {key!r}; have {list(table or {})}")
    return table[key]


class FakeContext:
    def __init__(self, images=None, containers=None, run_results=None, submission=None, *, histories=None,
                 logs=None, builds=None, services=None, exec_results=None, run_id="fake", events=None,
                 daemon_events=None, saved=None):
        self.images = dict(images or {})
        self.containers_ = dict(containers or {})
        self.run_results = run_results
        self.submission = Path(submission) if submission else None
        self.histories = dict(histories or {})
        self.logs_ = dict(logs or {})
        self.build_results = builds
        self.services = services
        self.exec_results = exec_results
        self.event_log = dict(events or {})  # container id -> [(action, time_ns)], the daemon's event log
        self.daemon_events = list(daemon_events or [])  # raw events, answered by events() whatever the filters
        self.run_id = run_id
        self.labels = {"org.dockyard.grader": run_id}
        self.builds: dict = {}
        self.failed_builds: dict = {}
        self.calls: list[tuple[str, tuple, dict]] = []
        self.sandbox = None  # a test's FakeSandbox, whose FakeRegistry registry() answers with
        self.client = None
        self.cleaned = False
        self.inspected: dict = {}
        self.saved = dict(saved or {})  # image ref -> the bytes of its docker save

    def _record(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))

    def calls_to(self, method: str) -> list[tuple[tuple, dict]]:
        return [(a, kw) for m, a, kw in self.calls if m == method]

    # --- the Context interface ------------------------------------------------------
    def path(self, rel: str = ".") -> Path:
        return ((self.submission or Path.cwd()) / rel).resolve()

    def read(self, rel: str, cap: int = READ_CAP) -> bytes:
        """The real reading of the hand-in's files (no daemon in it)."""
        self._record("read", rel, cap)
        return Inspector(None, submission=self.submission).read(rel, cap)

    def text(self, rel: str, cap: int = READ_CAP) -> str:
        return self.read(rel, cap).decode(errors="replace")

    # the daemon-wide answers come from the test's recorded client (ctx.client = ...), read by the real inspector
    def network(self, name: str) -> dict:
        return Inspector(self.client).network(name)

    def volume(self, name: str) -> dict:
        return Inspector(self.client).volume(name)

    def info(self) -> dict:
        return Inspector(self.client).info()

    def version(self) -> dict:
        return Inspector(self.client).version()

    def restart(self, container: str, timeout: int = 5) -> None:
        self._record("restart", container, timeout=timeout)
        with docker_errors(f"restarting {container}"):
            self.client.api.restart(container, timeout=timeout)

    def imported(self, name: str, rootfs) -> str:
        self._record("imported", name)
        return f"sha256:{name.replace(' ', '-')}"

    def image(self, ref: str) -> dict:
        self._record("image", ref)
        if ref in self.failed_builds:
            from grader.checks.base import Failed, fail

            raise Failed(fail(f"image {ref} was not built: {self.failed_builds[ref].problem}", reason="not_built",
                              hint="fix the build first"))
        if ref in self.builds and self.builds[ref].image_id in self.images:
            return self.images[self.builds[ref].image_id]
        if ref not in self.images:
            raise ImageNotFound(f"inspecting image {ref}: image not found (no such image: {ref})", status=404)
        return self.images[ref]

    def image_history(self, ref: str) -> list[dict]:
        self.image(ref)
        return self.histories.get(ref, [])

    def container(self, name: str) -> dict:
        self._record("container", name)
        for key, c in self.containers_.items():
            if name in (key, c.get("Id"), c.get("Name", "").lstrip("/")) or c.get("Id", "").startswith(name):
                return c
        raise ContainerNotFound(f"inspecting container {name}: not found (No such container: {name})", status=404)

    def containers(self, **filters) -> list[dict]:
        self._record("containers", **filters)
        return list(self.containers_.values())

    def save_image(self, ref: str):
        self._record("save_image", ref)
        self.image(ref)
        return iter([_answer(self.saved, ref, "docker save of")])

    def container_events(self, container_id, since=None, kinds=("oom", "kill")):
        counts = dict.fromkeys(kinds, 0)
        for ev in self.container_event_log(container_id, since, kinds):
            counts[ev["action"]] += 1
        return counts

    def registry(self):
        reg = getattr(self.sandbox, "registry", None)
        return reg if reg is not None and reg.port else None

    def container_event_log(self, container_id, since=None, kinds=("create", "start", "update", "die")):
        self._record("container_event_log", container_id, since, kinds)
        return [{"action": a, "time_ns": t} for a, t in self.event_log.get(container_id, []) if a in kinds]

    def events(self, since=0, **filters):
        self._record("events", since, **filters)
        return list(self.daemon_events)

    def exec(self, name, cmd, user=None, timeout=30):
        self._record("exec", name, cmd, user=user, timeout=timeout)
        return _answer(self.exec_results, _key(cmd), "exec", name, cmd, user=user, timeout=timeout)

    def logs(self, name: str, tail: int = 200) -> str:
        self._record("logs", name, tail=tail)
        return self.logs_.get(name, "")

    def build(self, context_dir, dockerfile="Dockerfile", tag=None, timeout=None):
        self._record("build", context_dir, dockerfile, tag, timeout=timeout)
        if tag in self.failed_builds:
            raise self.failed_builds[tag]
        result = _answer(self.build_results, tag, "build", context_dir, dockerfile, tag, timeout)
        if isinstance(result, BaseException):
            self.failed_builds[tag] = result
            raise result
        self.builds[tag] = result
        return result

    def run(self, image, cmd=None, *, timeout=30, user=None, entrypoint=None, network=False, **extra):
        kw = dict(timeout=timeout, user=user, entrypoint=entrypoint, network=network, **extra)
        self._record("run", image, cmd, **kw)
        result = _answer(self.run_results, _key(cmd), "run", image, cmd, **kw)
        if isinstance(result, BaseException):
            raise result
        return result

    def start_service(self, image, port, cmd=None):
        self._record("start_service", image, port, cmd=cmd)
        result = _answer(self.services, image, "start_service", image, port, cmd)
        if isinstance(result, BaseException):
            raise result
        self.containers_.setdefault(result.get("Id", image), result)
        return result

    def cleanup(self):
        self.cleaned = True


def run_check(name: str, ctx, /, **params):
    """Validate ``params`` as the spec loader would, run the check, return its Outcome (``Failed`` included)."""
    from grader.checks.base import Failed, get

    ct = get(name)
    problems = ct.validate(params)
    assert not problems, problems
    try:
        return ct.func(ctx, **params)
    except Failed as exc:
        return exc.outcome


@contextlib.contextmanager
def local_http_server(handler):
    """A real HTTP server on 127.0.0.1 (a free port) for probe checks; yields the port."""
    import http.server
    import threading

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
