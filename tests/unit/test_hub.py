"""`dockyard hub`'s pure parts: the roster, the passwd view, the exchange's modes, safe collect, the hub config."""

from __future__ import annotations

import json
import os
import stat
import types
from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from grader.hub import exchange, roster
from grader.hub.run import HubDir
from grader.hub.spawner import sandbox_name
from grader.course import exchange as collect
from grader.course.kernel_user import Plan


# --- roster ------------------------------------------------------------------------------
def test_a_password_verifies_against_its_hash_only():
    stored = roster.hash_password("correct horse", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$")
    assert roster.verify_password("correct horse", stored)
    assert not roster.verify_password("correct hors", stored)
    assert not roster.verify_password("correct horse", "md5$x$y$z")
    assert not roster.verify_password("x", "garbage")
    assert roster.hash_password("same", iterations=1000) != roster.hash_password("same", iterations=1000)  # salted


@pytest.mark.parametrize("name", ["", "Alice", "1abc", "a b", "a/b", "x" * 33, "../etc"])
def test_names_that_cannot_be_student_ids_are_refused(name):
    with pytest.raises(DockyardError, match="not valid"):
        roster.check_name(name)


def test_a_name_of_a_system_account_is_refused():
    with pytest.raises(DockyardError, match="account of this machine"):
        roster.check_name("daemon", {"root", "daemon"})
    roster.check_name("alice", {"root", "daemon"})


def test_uids_skip_taken_and_claimed_ones():
    assert roster.pick_uid({100, 101}, {102}, (100, 110)) == 103
    with pytest.raises(DockyardError, match="no free learner uid"):
        roster.pick_uid({100}, {101}, (100, 101))


def test_uid_range_from_the_environment(monkeypatch):
    monkeypatch.setenv("DOCKYARD_HUB_UIDS", "5000-5009")
    assert roster.uid_range() == (5000, 5009)
    monkeypatch.setenv("DOCKYARD_HUB_UIDS", "10-20")
    with pytest.raises(ValueError):
        roster.uid_range()


def test_the_roster_keeps_a_uid_per_learner_across_new_passwords(tmp_path, monkeypatch):
    monkeypatch.setattr(roster, "ITERATIONS", 1000)
    monkeypatch.setattr(roster, "hash_password", lambda p, **kw: "pbkdf2_sha256$1000$" + "x" * 4 + "$" + p)
    r = roster.Roster(tmp_path / "hub" / "roster.json")
    a, pw = r.add("alice")
    b, _ = r.add("bob", "instructor", "given")
    assert a.uid != b.uid and roster.uid_range()[0] <= a.uid <= roster.uid_range()[1]
    assert len(pw) >= 12
    again, _ = r.add("alice", password="new")
    assert again.uid == a.uid
    assert r.by_uid() == {a.uid: "alice", b.uid: "bob"}
    assert stat.S_IMODE(os.stat(r.path).st_mode) == 0o600
    assert r.get("bob").role == "instructor"
    assert r.remove("alice") and not r.remove("alice")
    with pytest.raises(DockyardError, match="role"):
        r.add("carol", "teacher")


def test_a_roster_of_another_schema_is_refused(tmp_path):
    p = tmp_path / "roster.json"
    p.write_text(json.dumps({"schema_version": 9, "users": {}}))
    with pytest.raises(DockyardError, match="schema_version 9"):
        roster.Roster(p).members()


# --- the learner's view and the exchange ----------------------------------------------------
def test_the_passwd_view_names_the_learner_once():
    host = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n"
    passwd, group = exchange.passwd_view(host, "root:x:0:\n", "alice", 1990100000, "/work/alice")
    lines = passwd.splitlines()
    assert lines[0].startswith("root:") and lines.count("alice:x:1990100000:1990100000:Dockyard learner:/work/alice:/bin/bash") == 1
    assert not any(line.startswith("alice:x:1000") for line in lines)
    assert group.splitlines() == ["root:x:0:", "alice:x:1990100000:"]


def test_the_exchange_is_made_with_sticky_folders_where_learners_write(tmp_path):
    root = exchange.prepare(tmp_path / "exchange")
    modes = {rel: stat.S_IMODE(os.stat(root / rel).st_mode) for rel, _m in exchange.LAYOUT}
    assert modes[""] == 0o1777  # nbgrader compares only the low bits (0777) and so keeps the sticky bit
    assert modes["dockyard/inbound"] == 0o3733
    assert modes["dockyard/feedback"] == 0o711


def test_the_learner_config_has_the_students_side_of_nbgrader_only(tmp_path):
    folder = exchange.write_learner_config(tmp_path / "cfg", tmp_path / "exchange")
    server = json.loads((folder / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    assert server["nbgrader.server_extensions.assignment_list"] and not server["nbgrader.server_extensions.formgrader"]
    page = json.loads((folder / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert page["@jupyter/nbgrader:formgrader"] and page["@jupyter/nbgrader:create-assignment"]
    text = (folder / "nbgrader_config.py").read_text()
    assert str(tmp_path / "exchange") in text and "course_id = 'dockyard'" in text


def test_a_plan_carries_its_overlays_and_login():
    p = Plan(uid=5, mask=[], private=[], folder="/w", binds=[("/s", True)], overlays=[("/h/passwd", "/etc/passwd")],
             login="alice")
    back = Plan.from_env(p.to_env())
    assert back.overlays == [("/h/passwd", "/etc/passwd")] and back.login == "alice"
    old = json.loads(p.to_env())
    del old["overlays"], old["login"]
    assert Plan.from_env(json.dumps(old)).overlays == []  # a plan from before overlays


def test_sandbox_names_are_stable_valid_and_not_the_graders():
    from dockyard.config import SandboxConfig

    a = sandbox_name("/srv/hub", "alice")
    assert a == sandbox_name("/srv/hub", "alice") != sandbox_name("/srv/hub", "bob") != sandbox_name("/srv/hub2", "alice")
    assert a.startswith("h") and len(a) == 9
    SandboxConfig(name=a)  # a valid sandbox name


# --- collect --------------------------------------------------------------------------------
def test_collect_refuses_a_hand_in_under_another_students_name(tmp_path):
    inbound = tmp_path / "inbound"
    (inbound / "ann+05+2026").mkdir(parents=True)
    (inbound / "ann+05+2099").mkdir()
    os.symlink(inbound / "ann+05+2026", inbound / "ann+05+2100")
    me = os.geteuid()
    assert collect.refusal({"filename": "ann+05+2026", "username": "ann"}, str(inbound), {me: "ann"}) is None
    why = collect.refusal({"filename": "ann+05+2099", "username": "ann"}, str(inbound), {me: "ben"})
    assert why == "ann+05+2099: claims to be ann's but is owned by ben"
    assert "owned by uid" in collect.refusal({"filename": "ann+05+2099", "username": "ann"}, str(inbound), {})
    assert "not a folder" in collect.refusal({"filename": "ann+05+2100", "username": "ann"}, str(inbound), {me: "ann"})
    assert "gone" in collect.refusal({"filename": "nope", "username": "ann"}, str(inbound), {me: "ann"})


def test_collect_picks_the_latest_genuine_hand_in_before_a_later_forged_one():
    recs = [{"timestamp": 1, "refused": None}, {"timestamp": 3, "refused": "forged"}, {"timestamp": 2, "refused": None}]
    order = collect.SafeCollect._sort_by_timestamp(None, recs)
    assert [r["timestamp"] for r in order] == [2, 1, 3]


def test_owners_come_from_the_roster(tmp_path):
    p = tmp_path / "roster.json"
    p.write_text(json.dumps({"schema_version": 1, "users": {"ann": {"uid": 7, "role": "student", "password": ""}}}))
    assert collect.owners(str(p)) == {7: "ann"}
    assert collect.owners(None)[0] == "root"


def test_a_course_a_hub_serves_uses_its_exchange_and_safe_collect(tmp_path):
    from traitlets.config import Config

    from grader.course.config import HUB_FILE, apply

    (tmp_path / HUB_FILE).write_text(json.dumps({"exchange": "/x/exchange", "roster": "/x/roster.json"}))
    c = Config()
    apply(c, tmp_path)
    assert c.Exchange.root == "/x/exchange" and c.SafeCollect.roster == "/x/roster.json"
    assert c.ExchangeFactory.collect == "grader.course.exchange.SafeCollect"
    c = Config()
    apply(c, tmp_path / "elsewhere")
    assert "root" not in c.Exchange and c.ExchangeFactory.collect == "grader.course.exchange.SafeCollect"


# --- the hub's configuration ------------------------------------------------------------------
def test_the_hub_listens_on_loopback_with_culler_and_formgrader(tmp_path):
    from traitlets.config import Config

    from grader.hub import config

    hub = HubDir(tmp_path / "hub")
    hub.root.mkdir()
    hub.roster.add("tess", "instructor", "pw-for-tess")
    hub.settings_file.write_text(json.dumps({"port": 8000, "hub_port": 8001, "proxy_api_port": 8002,
                                             "formgrader_port": 8003, "course": str(tmp_path / "course"),
                                             "cull_idle": 600, "cull_every": 60}))
    c = Config()
    config.apply(c, hub.root)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.hub_bind_url.startswith("http://127.0.0.1:")
    assert c.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert "--timeout=600" in services["idle-culler"]["command"]
    assert services["formgrader"]["url"] == "http://127.0.0.1:8003"
    assert services["formgrader"]["cwd"] == str(tmp_path / "course")
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["formgrader"]["groups"] == ["instructors"]
    assert roles["formgrader"]["scopes"] == ["access:services!service=formgrader"]
    assert "delete:servers" in roles["idle-culler"]["scopes"]
    assert c.JupyterHub.load_groups == {"instructors": {"users": ["tess"]}}
    assert c.JupyterHub.cleanup_servers is True


def test_the_hub_masks_the_course_from_learners(tmp_path):
    hub = HubDir(tmp_path / "hub")
    hub.root.mkdir()
    (tmp_path / "course").mkdir()
    hub.settings_file.write_text(json.dumps({"course": str(tmp_path / "course")}))
    assert hub.hidden_from_learners() == [os.path.realpath(tmp_path / "course")]
    assert HubDir(tmp_path / "none").hidden_from_learners() == []


def test_the_hub_process_passes_no_hub_secrets_on(monkeypatch):
    from grader.hub.run import hub_env

    monkeypatch.setenv("CONFIGPROXY_AUTH_TOKEN", "secret")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret")
    env = hub_env()
    assert "CONFIGPROXY_AUTH_TOKEN" not in env and "JUPYTERHUB_API_TOKEN" not in env


def test_hub_names_are_checked():
    with pytest.raises(DockyardError):
        HubDir.named("../x")
    assert HubDir.named("docker-101", home=Path("/h")).root == Path("/h/.hub/docker-101")


def test_the_spawner_gives_a_learner_only_the_hubs_whitelisted_environment(monkeypatch, tmp_path):
    from grader.hub.spawner import DockyardSpawner

    monkeypatch.setenv("MY_HUB_SECRET", "s3cret")
    seen = {}

    class Session:
        box = types.SimpleNamespace(lesson_env=lambda: {"DOCKER_HOST": "unix:///x.sock", "TMPDIR": "/x/scratch"})

        def env(self, base):
            seen.update(base)
            return base

    sp = DockyardSpawner.__new__(DockyardSpawner)
    sp._session = Session()
    monkeypatch.setattr("jupyterhub.spawner.LocalProcessSpawner.get_env", lambda self: {"PATH": "/usr/bin",
                                                                                        "JUPYTERHUB_USER": "ann"})
    env = sp.get_env()
    assert "MY_HUB_SECRET" not in env and env["DOCKER_HOST"] == "unix:///x.sock" and env["JUPYTERHUB_USER"] == "ann"
    assert env["PATH"].split(os.pathsep)[1] == "/usr/bin"


def test_a_server_that_died_on_its_own_gives_its_sandbox_back(monkeypatch):
    from grader.hub.spawner import DockyardSpawner
    from grader.k8s.validate import run_coroutine

    async def dead(self):
        return 1

    monkeypatch.setattr("jupyterhub.spawner.LocalProcessSpawner.poll", dead)
    downs = []
    sp = DockyardSpawner.__new__(DockyardSpawner)
    sp._take_down = lambda: downs.append("down")
    sp._session = object()
    sp._starting = True  # coming up: the poll of a server not yet started says nothing
    assert run_coroutine(sp.poll()) == 1 and downs == []
    sp._starting = False
    assert run_coroutine(sp.poll()) == 1 and downs == ["down"]
    sp._session = None  # nothing held: nothing to give back
    run_coroutine(sp.poll())
    assert downs == ["down"]


def test_without_the_proxy_the_hub_says_how_to_install_it(tmp_path, monkeypatch):
    from grader.hub import config, run

    monkeypatch.setattr(config, "PROXY", tmp_path / "node" / "node_modules" / ".bin" / "configurable-http-proxy")
    with pytest.raises(DockyardError, match="configurable-http-proxy is not installed") as exc:
        run.prepare(HubDir(tmp_path / "hub"), course=tmp_path / "course", port=8000, cull_idle=60, cull_every=10,
                    sandbox_memory="1g", sandbox_cpus=1, purge_on_stop=False)
    assert f"npm install --prefix {tmp_path / 'node'}" in exc.value.fix


def test_prepare_writes_what_the_hub_and_the_course_read(tmp_path, monkeypatch):
    from grader.hub import config, run
    from grader.course.config import HUB_FILE

    chp = tmp_path / "chp"
    chp.write_text("")
    monkeypatch.setattr(config, "PROXY", chp)
    hub = HubDir(tmp_path / "hub")
    s = run.prepare(hub, course=tmp_path / "course", port=8123, cull_idle=60, cull_every=10, sandbox_memory="1g",
                    sandbox_cpus=1, purge_on_stop=True)
    assert s["port"] == 8123 and len({s["hub_port"], s["proxy_api_port"], s["formgrader_port"], 8123}) == 4
    assert stat.S_IMODE(os.stat(hub.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "course").st_mode) == 0o700
    assert json.loads((tmp_path / "course" / HUB_FILE).read_text()) == {"exchange": str(hub.exchange),
                                                                        "roster": str(hub.roster.path)}
    assert (tmp_path / "course" / "nbgrader_config.py").exists() and (hub.root / "jupyterhub_config.py").exists()


def test_the_hubs_formgrader_refuses_unsealed_autograde_as_the_teachers_does(tmp_path):
    from grader.hub.config import formgrader_command

    cmd = formgrader_command(tmp_path)
    assert "--ServerApp.jpserver_extensions=grader.course.teacher_ext=True" in cmd
    assert f"--ServerApp.root_dir={tmp_path}" in cmd
