"""Checks on a running Compose application: its containers, found by the labels Compose puts on them.

Compose v1 (``docker-compose``) names a container ``proj_web_1`` and v2 (``docker compose``)
``proj-web-1``; both label it ``com.docker.compose.project`` and ``com.docker.compose.service``,
so these checks find containers by those labels, never by name. Everything here comes from the
daemon; what only the compose file says (depends_on's condition) is in :mod:`.compose_file`.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import re
import time

from dockyard.errors import DockyardError

from .base import Failed, Param, check, fail, ok
from .httpget import Budget, OutOfTime, get_once
from .container import _log_tail, _state_text

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
VOLUME_LABEL = "com.docker.compose.volume"
PROJECT = Param(str, doc="the Compose project name (-p, COMPOSE_PROJECT_NAME)")
SERVICE = Param(str, doc="the service's name in the compose file")
WAIT = 30.0  # seconds a check waits for a health status still "starting", or a restarted db
STABLE = 5.0  # seconds a container must have run since its last start to count as up (not crash-looping)
SETTLE = 20.0  # seconds a check waits for a container that restarts (or just started) to stay up
HTTP_BUDGET = 10.0  # seconds compose.serves has for its HTTP answers, all requests and reads together


# --- the running application -------------------------------------------------------------
def _projects(ctx) -> list[str]:
    try:
        return sorted({(c.get("Labels") or {}).get(PROJECT_LABEL, "") for c in ctx.containers(label=PROJECT_LABEL)})
    except DockyardError:
        return []


def find(ctx, project: str, service: str) -> dict:
    """``docker inspect`` of the one container of ``service`` in ``project``; ends the check when there is none."""
    listed = ctx.containers(label=[f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"])
    if not listed:
        others = [p for p in _projects(ctx) if p != project]
        hint = (f"bring the application up as project {project}: docker-compose -p {project} up -d "
                f"(or COMPOSE_PROJECT_NAME={project} in .env)")
        if others:
            hint = f"found the project {others[0]}: the project name comes from -p, or else the folder's name; " + hint
        raise Failed(fail(f"there is no container of service {service} in the Compose project {project}"
                          + (f" (projects found: {', '.join(others)})" if others else ""), reason="missing",
                          hint=hint, projects=others))
    listed.sort(key=lambda c: (c.get("State") != "running", -int(c.get("Created") or 0)))
    return ctx.container(listed[0]["Id"])


def _name(ins: dict) -> str:
    return (ins.get("Name") or "").lstrip("/")


def _up_for(state: dict) -> float:
    """Seconds since the container's last start (0 when it is not running)."""
    if not state.get("Running") or state.get("Restarting"):
        return 0.0
    try:
        started = datetime.datetime.fromisoformat((state.get("StartedAt") or "")[:19]).replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return 0.0
    return max(0.0, time.time() - started)


def settled(ctx, project: str, service: str, budget: float | None = None) -> dict:
    """The service's container once it has stayed up STABLE seconds, or has stopped for good, or ``budget`` ends.

    A container whose process exits and whose restart policy starts it again (web reaching for a countdb
    that is not there yet) is "running" part of the time: one look at it proves nothing either way."""
    deadline = time.monotonic() + (SETTLE if budget is None else budget)
    while True:
        ins = find(ctx, project, service)
        state = ins.get("State") or {}
        stopped = not state.get("Running") and not state.get("Restarting") and state.get("Status") != "restarting"
        if stopped or _up_for(state) >= STABLE or time.monotonic() >= deadline:
            return ins
        time.sleep(0.5)


def _down_text(ins: dict) -> str | None:
    """Why the container does not count as running (None when it does)."""
    state = ins.get("State") or {}
    if not state.get("Running") or state.get("Restarting"):
        return _state_text(ins)
    if int(ins.get("RestartCount") or 0) and _up_for(state) < STABLE:
        return (f"crash-looping: restarted {ins['RestartCount']} times, up only {_up_for(state):.0f} s since the "
                "last start")
    return None


@check("compose.service", project=PROJECT, service=SERVICE)
def service_running(ctx, project, service):
    """The service's container, labeled by Compose, is running"""
    ins = settled(ctx, project, service)
    name, down = _name(ins), _down_text(ins)
    if down:
        tail = _log_tail(ctx, name, 3)
        return fail(f"the container {name} of service {service} is {down}; expected it running",
                    reason="not_running", status=ins["State"].get("Status"), log_tail=tail,
                    hint=f"docker-compose -p {project} logs {service} shows why it stopped"
                         + (f"; its log ends with: {tail.splitlines()[-1]!r}" if tail else ""))
    return ok(f"{name} (service {service} of project {project}) is running, image {ins['Config'].get('Image')}",
              container=name)


@check("compose.healthy", project=PROJECT, service=SERVICE)
def healthy(ctx, project, service):
    """The service's container has a healthcheck, and it reports healthy"""
    deadline = time.monotonic() + WAIT
    while True:
        ins = find(ctx, project, service)
        name, health = _name(ins), (ins.get("State") or {}).get("Health")
        test = ((ins.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
        if not health or test[:1] == ["NONE"]:
            return fail(f"{name} has no healthcheck (docker inspect shows no State.Health); expected one that "
                        f"reports healthy", reason="no_healthcheck", container=name,
                        hint=f"give {service} a healthcheck: with test: a command that exits 0 when it is ready")
        status = health.get("Status")
        if status == "healthy":
            return ok(f"{name} is healthy ({' '.join(map(str, test))})", container=name, test=test)
        if status != "starting" or time.monotonic() >= deadline:
            break
        time.sleep(1)
    last = (health.get("Log") or [{}])[-1]
    output = (last.get("Output") or "").strip()[-200:]
    return fail(f"{name} is {status}; expected healthy (last probe exited {last.get('ExitCode')}"
                + (f": {output!r}" if output else "") + ")", reason="unhealthy" if status != "starting" else "starting",
                container=name, test=test, last_probe=last,
                hint="the healthcheck's test fails: run it yourself, docker-compose exec " + service
                     + " " + " ".join(map(str, test[1:])) + ", and see docker inspect " + name + " (State.Health.Log)")


@check("compose.restart_policy", project=PROJECT, service=SERVICE,
       allowed=Param(list, default=["unless-stopped", "always", "on-failure"], doc="restart policies that pass"))
def restart_policy(ctx, project, service, allowed=("unless-stopped", "always", "on-failure")):
    """The service's container restarts on its own when its process exits"""
    ins = find(ctx, project, service)
    name = _name(ins)
    kind = ((ins.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
    if kind not in allowed:
        return fail(f"{name} has the restart policy {kind}; expected {' or '.join(allowed)}", reason="no_restart",
                    container=name, policy=kind,
                    hint=f'add restart: unless-stopped to {service} (quote "no" if you ever mean no: '
                         "unquoted, YAML reads it as false)")
    return ok(f"{name} has the restart policy {kind}", container=name, policy=kind)


@check("compose.volume", project=PROJECT, service=SERVICE, destination=Param(str, doc="the path in the container"))
def named_volume(ctx, project, service, destination):
    """A named volume of the project is mounted at the path"""
    ins = find(ctx, project, service)
    name = _name(ins)
    mounts = {m.get("Destination"): m for m in ins.get("Mounts") or []}
    m = mounts.get(destination)
    have = ", ".join(f"{d} ({x.get('Type')})" for d, x in mounts.items()) or "nothing"
    if not m:
        return fail(f"nothing is mounted at {destination} in {name} (mounted: {have}); expected a named volume",
                    reason="not_mounted", container=name, hint=f"under {service}: volumes: [NAME:{destination}], "
                    "and NAME under the top-level volumes:; the data now lives in the container and goes with it")
    if m.get("Type") != "volume":
        return fail(f"{destination} in {name} is a {m.get('Type')} mount of {m.get('Source')}; expected a named volume",
                    reason="wrong_type", container=name, hint="a path before the colon (./data:/data) is a bind "
                    f"mount of a host folder; a plain name is a named volume: NAME:{destination}, declared under "
                    "volumes:")
    vol = m.get("Name") or ""
    try:
        labels = ctx.volume(vol).get("Labels") or {}
    except DockyardError:
        labels = {}
    if labels.get(PROJECT_LABEL) != project or not labels.get(VOLUME_LABEL):
        anonymous = bool(re.fullmatch(r"[0-9a-f]{64}", vol))
        return fail(f"{destination} in {name} is the volume {vol[:12] + '…' if anonymous else vol}, "
                    + ("an anonymous one" if anonymous else "not one the project declares")
                    + "; expected a named volume of the project", reason="anonymous" if anonymous else "external",
                    container=name, volume=vol, hint=f"- {destination} alone makes an anonymous volume: after "
                    "docker-compose down the next up makes a new, empty one. Name it (NAME:"
                    f"{destination}) and declare NAME under the top-level volumes:")
    return ok(f"{destination} in {name} is the named volume {vol} (declared as {labels[VOLUME_LABEL]})",
              container=name, volume=vol)


def _ports(ins: dict, container_port: int) -> list[tuple[str, str]]:
    key = f"{container_port}/tcp"
    running = ((ins.get("NetworkSettings") or {}).get("Ports") or {}).get(key) or []
    config = ((ins.get("HostConfig") or {}).get("PortBindings") or {}).get(key) or []
    # the live bindings only: a configured host port that is not bound now is nobody's to probe
    return [(c.get("HostIp") or "", r.get("HostPort") or "") for c, r in zip(config, running)]


def _get(port: int, path: str, budget: Budget) -> tuple[int | None, str]:
    """GET until a 200 or the end of ``budget`` (503 while the database restarts): the last answer."""
    last = None, "no answer"
    while True:
        try:
            status, body = get_once(port, path, budget, 500)
            answer = status, body.decode(errors="replace").strip()
            if answer[0] == 200:
                return answer
            last = answer  # 503 while the database (re)starts: ask again until the budget ends
        except OutOfTime as exc:
            return None, str(exc)
        except (OSError, http.client.HTTPException) as exc:
            last = None, f"{type(exc).__name__}: {exc}"
        if budget.left() <= 0.5:
            return last
        time.sleep(0.5)


def _published(ctx, project: str, service: str, container_port: int) -> tuple[dict, int]:
    ins = settled(ctx, project, service)
    name = _name(ins)
    binds = _ports(ins, container_port)
    if not binds:
        raise Failed(fail(f"port {container_port} of {name} is not published; expected it on 127.0.0.1",
                          reason="not_published", container=name,
                          hint=f'under {service}: ports: ["127.0.0.1::{container_port}"] (quoted)'))
    wide = [ip or "all addresses" for ip, _ in binds if ip != "127.0.0.1"]
    if wide:
        raise Failed(fail(f"port {container_port} of {name} is published on {', '.join(wide)}; expected 127.0.0.1 "
                          "only", reason="all_interfaces", container=name, bindings=binds,
                          hint=f'a ports: entry without an address publishes on every address of the machine (this '
                               f'sandbox keeps it on the loopback; a normal install does not): write '
                               f'"127.0.0.1::{container_port}"'))
    down = _down_text(ins)
    if down or not binds[0][1]:
        raise Failed(fail(f"{name} is {down or 'not published yet'}; its port cannot be probed", reason="not_running",
                          container=name, hint=f"docker-compose -p {project} logs {service} shows why it stopped"))
    return ins, int(binds[0][1])


@check("compose.serves", project=PROJECT, service=SERVICE, container_port=Param(int),
       path=Param(str, default="/"), body_contains=Param(str, default=""))
def serves(ctx, project, service, container_port, path="/", body_contains=""):
    """The service answers HTTP through its port published on 127.0.0.1"""
    ins, port = _published(ctx, project, service, container_port)
    name, url = _name(ins), f"http://127.0.0.1:{port}{path}"
    status, body = _get(port, path, Budget(HTTP_BUDGET))
    if status != 200 or body_contains not in body:
        return fail(f"GET {url} answered {status or 'nothing'}: {body[:200]!r}; expected 200"
                    + (f" with {body_contains!r}" if body_contains else ""), reason="bad_answer", container=name,
                    url=url, status=status, body=body,
                    hint=f"docker-compose -p {project} logs {service} says what went wrong")
    return ok(f"GET {url} answered 200: {body[:120]!r}", container=name, url=url, body=body)


def _env(ins: dict) -> dict[str, str]:
    return dict(e.split("=", 1) for e in (ins.get("Config") or {}).get("Env") or [] if "=" in e)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


@check("compose.by_name", project=PROJECT, service=SERVICE, variable=Param(str, doc="the variable naming the host"),
       target=Param(str, doc="the service it must name"))
def by_name(ctx, project, service, variable, target):
    """The service finds the other by its service name, on the project's network"""
    ins = find(ctx, project, service)
    name, value = _name(ins), _env(ins).get(variable)
    value = value if value is None or len(value) <= 100 else value[:100] + "…"
    other = find(ctx, project, target)
    aliases = {target}
    for net in ((other.get("NetworkSettings") or {}).get("Networks") or {}).values():
        aliases.update(net.get("Aliases") or [])
    if value is None:
        return fail(f"{name} has no environment variable {variable}; expected {variable}={target}", reason="missing",
                    container=name, hint=f"under {service}: environment: {{{variable}: {target}}}")
    if _is_ip(value):
        return fail(f"{name} has {variable}={value}, an IP address; expected the service name {target}",
                    reason="ip_address", container=name, value=value,
                    hint=f"a container's address changes when Compose recreates it; Docker's DNS on the project's "
                         f"network answers the service name: {variable}: {target}")
    if value not in aliases:
        return fail(f"{name} has {variable}={value}; expected {target} (or another name {target} has on the "
                    f"network: {', '.join(sorted(aliases))})", reason="wrong_name", container=name, value=value,
                    hint=f"the name of a service in the compose file is its host name: {variable}: {target}")
    shared = set(((ins.get("NetworkSettings") or {}).get("Networks") or {})) & \
        set(((other.get("NetworkSettings") or {}).get("Networks") or {}))
    if not shared:
        return fail(f"{name} and {_name(other)} share no network; {value} cannot be resolved", reason="no_network",
                    container=name, hint="leave networks: out and both join the project's default network")
    return ok(f"{name} reaches {target} by name ({variable}={value}) on {', '.join(sorted(shared))}",
              container=name, value=value, networks=sorted(shared))


def _wait_healthy(ctx, cid: str) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        state = ctx.container(cid).get("State") or {}
        status = (state.get("Health") or {}).get("Status") or ("running" if state.get("Running") else "down")
        if status in ("healthy", "running") or time.monotonic() >= deadline:
            return status
        time.sleep(0.5)


@check("compose.survives_restart", project=PROJECT, service=SERVICE,
       db=Param(str, doc="the service the grader restarts"),
       container_port=Param(int), path=Param(str, default="/"),
       count=Param(str, default=r"Visits: (\d+)", doc="a regular expression whose group 1 is the count"))
def survives_restart(ctx, project, service, db, container_port, path="/", count=r"Visits: (\d+)"):
    """The count goes on after the grader restarts the database's container"""
    ins, port = _published(ctx, project, service, container_port)
    url = f"http://127.0.0.1:{port}{path}"
    # the whole check's time from here: a GET before the restart (at most HTTP_BUDGET), the database's restart and
    # the app's settling (WAIT, SETTLE), and a GET after it, which gets whatever is left, HTTP_BUDGET or more
    budget = Budget(2 * HTTP_BUDGET + WAIT + SETTLE)

    def visits(within: Budget) -> tuple[int | None, str]:
        status, body = _get(port, path, within)
        m = re.search(count, body) if status == 200 else None
        return (int(m.group(1)) if m else None), body

    before, body = visits(budget.share(HTTP_BUDGET))
    if before is None:
        return fail(f"GET {url} gave no count before the restart: {body[:200]!r}", reason="bad_answer", url=url,
                    hint="the app must answer through its published port first (see the check above)")
    dbc = find(ctx, project, db)
    try:
        ctx.restart(dbc["Id"], timeout=5)
    except DockyardError as exc:
        return fail(f"the grader could not restart {_name(dbc)}: {exc}", reason="restart_failed",
                    hint="see docker-compose logs " + db)
    status = _wait_healthy(ctx, dbc["Id"])
    _, port = _published(ctx, project, service, container_port)  # the app may have restarted meanwhile
    after, body = visits(budget)
    evidence = dict(url=url, before=before, after=after, db_status=status)
    if after is None or after <= before:
        return fail(f"after the grader restarted {_name(dbc)} ({status}), GET {url} counted {after}: {body[:120]!r}; "
                    f"expected more than {before}", reason="lost", **evidence,
                    hint=f"the database must keep its data where a restart finds it again: a named volume at its data "
                         f"folder; and {service} must keep answering while {db} restarts (a restart policy)")
    return ok(f"the count went on from {before} to {after} after the grader restarted {_name(dbc)}", **evidence)
