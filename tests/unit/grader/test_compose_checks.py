"""compose.*: checks on a Compose project, against docker inspect data recorded from lab 10's hand-ins
(Compose v1 1.29 on the sandbox's dockerd 20.10), and compose files read with yaml.safe_load."""

from __future__ import annotations

import http.server

import pytest

from grader.checks import compose, compose_file

from .fakes import FakeContext, load_data, local_http_server, run_check

P = {"project": "counter"}


class Volumes:
    """client.api.inspect_volume from the recording."""

    def __init__(self, volumes):
        self.api = self
        self.volumes = volumes

    def inspect_volume(self, name):
        return self.volumes[name]


class ComposeContext(FakeContext):
    """FakeContext whose containers() filters by labels as dockerd does."""

    def __init__(self, recording: dict, **kw):
        super().__init__(containers={c["Id"]: c for c in recording["containers"].values()}, **kw)
        self.client = Volumes(recording["volumes"])

    def containers(self, **filters):
        want = filters.get("label") or []
        want = [want] if isinstance(want, str) else want
        out = []
        for c in self.containers_.values():
            labels = c["Config"]["Labels"]
            if all((labels.get(w.split("=", 1)[0]) == w.split("=", 1)[1]) if "=" in w else w in labels for w in want):
                out.append({"Id": c["Id"], "Labels": labels, "State": c["State"]["Status"], "Created": 0})
        return out


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(compose, "SETTLE", 0)
    monkeypatch.setattr(compose, "WAIT", 0)


def ctx_of(name, edit=None, **kw):
    rec = load_data(name)
    if edit:
        edit(rec["containers"])
    return ComposeContext(rec, **kw)


def test_the_solution_passes_every_state_check():
    ctx = ctx_of("compose_solution")
    for service in ("db", "web"):
        assert run_check("compose.service", ctx, service=service, **P).passed
        assert run_check("compose.restart_policy", ctx, service=service, **P).passed
    r = run_check("compose.healthy", ctx, service="db", **P)
    assert r.passed and "counter_db_1 is healthy" in r.message
    r = run_check("compose.volume", ctx, service="db", destination="/data", **P)
    assert r.passed and "counter_counts" in r.message and "declared as counts" in r.message
    r = run_check("compose.by_name", ctx, service="web", variable="DB_HOST", target="db", **P)
    assert r.passed and "counter_default" in r.message


def test_containers_are_found_by_labels_whatever_their_names():
    def rename(cs):
        for c in cs.values():
            c["Name"] = c["Name"].replace("_", "-")  # as Compose v2 names them
    r = run_check("compose.service", ctx_of("compose_solution", rename), service="web", **P)
    assert r.passed and "counter-web-1" in r.message


def test_another_project_name_is_missing_and_the_hint_names_what_was_found():
    r = run_check("compose.service", ctx_of("compose_solution"), project="tryit", service="web")
    assert not r.passed and r.reason == "missing"
    assert "projects found: counter" in r.message and "-p tryit" in r.hint


def test_no_healthcheck_is_reported_as_such():
    r = run_check("compose.healthy", ctx_of("compose_start_order"), service="db", **P)
    assert not r.passed and r.reason == "no_healthcheck" and "State.Health" in r.message


def test_an_unhealthy_container_quotes_its_last_probe():
    def sick(cs):
        h = cs["db"]["State"]["Health"]
        h["Status"] = "unhealthy"
        h["Log"][-1].update(ExitCode=1, Output="countdb is not answering: Connection refused\n")
    r = run_check("compose.healthy", ctx_of("compose_solution", sick), service="db", **P)
    assert not r.passed and r.reason == "unhealthy" and "Connection refused" in r.message


def test_an_anonymous_volume_is_not_a_named_one():
    r = run_check("compose.volume", ctx_of("compose_anonymous"), service="db", destination="/data", **P)
    assert not r.passed and r.reason == "anonymous" and "an anonymous one" in r.message


def test_a_bind_mount_is_the_wrong_type():
    def bind(cs):
        cs["db"]["Mounts"] = [{"Type": "bind", "Source": "/home/me/data", "Destination": "/data", "RW": True}]
    r = run_check("compose.volume", ctx_of("compose_solution", bind), service="db", destination="/data", **P)
    assert not r.passed and r.reason == "wrong_type" and "/home/me/data" in r.message


def test_restart_no_fails_and_always_is_allowed():
    def policy(name):
        def edit(cs):
            cs["web"]["HostConfig"]["RestartPolicy"]["Name"] = name
        return edit
    r = run_check("compose.restart_policy", ctx_of("compose_solution", policy("no")), service="web", **P)
    assert not r.passed and r.reason == "no_restart" and '"no"' in r.hint
    assert run_check("compose.restart_policy", ctx_of("compose_solution", policy("always")), service="web", **P).passed


def test_a_crash_looping_web_is_not_running_and_its_ip_address_is_named():
    ctx = ctx_of("compose_hard_coded_ip")
    r = run_check("compose.service", ctx, service="web", **P)
    assert not r.passed and r.reason == "not_running" and "restarting" in r.message
    r = run_check("compose.by_name", ctx, service="web", variable="DB_HOST", target="db", **P)
    assert not r.passed and r.reason == "ip_address" and "172.18.0.2" in r.message


def test_a_running_container_that_just_restarted_again_counts_as_crash_looping():
    def looping(cs):
        cs["web"]["State"].update(Running=True, Restarting=False, Status="running",
                                  StartedAt=__import__("datetime").datetime.utcnow().isoformat() + "Z")
        cs["web"]["RestartCount"] = 4
    r = run_check("compose.service", ctx_of("compose_hard_coded_ip", looping), service="web", **P)
    assert not r.passed and "crash-looping: restarted 4 times" in r.message


class Visits(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"Hello from abc! Visits: 3 (counted by countdb at db:7379)\n")

    def log_message(self, *args):
        pass


def published(port, ip="127.0.0.1"):
    def edit(cs):
        cs["web"]["HostConfig"]["PortBindings"] = {"8000/tcp": [{"HostIp": ip, "HostPort": ""}]}
        cs["web"]["NetworkSettings"]["Ports"] = {"8000/tcp": [{"HostIp": ip or "0.0.0.0", "HostPort": str(port)}]}
    return edit


def test_serves_probes_the_published_loopback_port():
    with local_http_server(Visits) as port:
        r = run_check("compose.serves", ctx_of("compose_solution", published(port)), service="web",
                      container_port=8000, body_contains="Visits:", **P)
    assert r.passed and f"127.0.0.1:{port}" in r.message


def test_a_port_published_without_an_address_fails_before_any_probe():
    r = run_check("compose.serves", ctx_of("compose_solution", published(1, ip="")), service="web",
                  container_port=8000, **P)
    assert not r.passed and r.reason == "all_interfaces" and "127.0.0.1::8000" in r.hint


# --- the compose file --------------------------------------------------------------------
def hand_in(tmp_path, text, name="compose.yaml"):
    (tmp_path / name).write_text(text)
    return FakeContext(submission=tmp_path)


WEB = "services:\n  db:\n    build: ./db\n  web:\n    build: ./web\n    depends_on:\n"


@pytest.mark.parametrize("deps, reason", [
    ("      - db\n", "start_order"),
    ("      db:\n        condition: service_started\n", "wrong_condition"),
    ("      - cache\n", "missing"),
])
def test_depends_on_without_the_healthy_condition_fails(tmp_path, deps, reason):
    r = run_check("compose.depends_healthy", hand_in(tmp_path, WEB + deps), service="web", dependency="db")
    assert not r.passed and r.reason == reason


def test_depends_on_service_healthy_passes_in_any_file_name_compose_reads(tmp_path):
    ctx = hand_in(tmp_path, WEB + "      db:\n        condition: service_healthy\n", name="docker-compose.yml")
    assert run_check("compose.depends_healthy", ctx, service="web", dependency="db").passed


def test_a_python_tag_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    text = f"services: !!python/object/apply:os.system ['touch {marker}']\n"
    r = run_check("compose.file", hand_in(tmp_path, text), services=["db"])
    assert not r.passed and r.reason == "invalid_yaml"
    assert not marker.exists()


def test_a_missing_file_and_a_missing_service_say_what_to_write(tmp_path):
    r = run_check("compose.file", FakeContext(submission=tmp_path), services=["db"])
    assert not r.passed and r.reason == "missing" and "compose.yaml" in r.message
    r = run_check("compose.file", hand_in(tmp_path, "services:\n  db:\n    image: busybox\n"), services=["db", "web"])
    assert not r.passed and r.reason == "no_service" and "web" in r.message



BOMB = """a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
services:
  db: {image: busybox}
  web:
    image: busybox
    depends_on: &deps [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_anchors_that_nest_a_list_a_billion_times_are_quoted_short(tmp_path):
    r = run_check("compose.depends_healthy", hand_in(tmp_path, BOMB), service="web", dependency="db")
    assert not r.passed and r.reason == "missing"
    assert len(r.evidence["depends_on"]) < 250 and r.evidence["depends_on"].endswith("…")


def test_a_list_that_holds_itself_is_quoted_short(tmp_path):
    text = "services:\n  db: {image: busybox}\n  web:\n    image: busybox\n    depends_on: &me [db, *me]\n"
    r = run_check("compose.depends_healthy", hand_in(tmp_path, text), service="web", dependency="db")
    assert not r.passed and r.reason == "start_order" and "[db, [db, [db" in r.evidence["depends_on"]


def test_a_huge_file_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(compose_file, "MAX_FILE", 100)
    r = run_check("compose.file", hand_in(tmp_path, "services:\n" + "  x: {image: busybox}\n" * 10), services=["x"])
    assert not r.passed and r.reason == "too_large"


def test_a_file_nested_too_deep_or_too_large_is_refused_without_a_crash(tmp_path):
    r = run_check("compose.file", hand_in(tmp_path, "services: " + "[" * 20000), services=["db"])
    assert not r.passed and r.reason == "invalid_yaml" and "nests too deeply" in r.message
    (tmp_path / "compose.yaml").write_bytes(b"services:\n" + b"#" * (300 * 1024))
    r = run_check("compose.file", FakeContext(submission=tmp_path), services=["db"])
    assert not r.passed and r.reason == "too_large"
