"""Checks on the hand-in's compose file, for what the daemon cannot show (depends_on's condition).

The file is the student's: it is read with ``yaml.safe_load`` (no tags, no objects), at most
MAX_FILE bytes, never handed to Compose in the grader's process, and quoted only shortened.
"""

from __future__ import annotations

import yaml

from dockyard.safefs import FileTooLarge

from .base import Failed, Param, check, fail, ok
from .compose import SERVICE

FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")  # Compose's own order
FILE = Param(str, default="", doc="the compose file, relative to the submission (default: the names Compose looks for)")
MAX_FILE = 256 * 1024  # bytes of compose file the grader reads; a real one is a few hundred


def read_file(ctx, path: str = "") -> tuple[str, dict]:
    """(its name, the parsed document) of the hand-in's compose file; ends the check when there is none."""
    names = (path,) if path else FILE_NAMES
    for name in names:
        full = ctx.path(name)
        if full.is_file():
            break
    else:
        raise Failed(fail(f"no compose file: expected {' or '.join(names)} in the hand-in", reason="missing",
                          hint="write compose.yaml next to the notebook (File → New → Text File)"))
    # at most MAX_FILE bytes of a regular file, opened without following a link or waiting on a FIFO
    # (the name may have been swapped since it was looked at)
    try:
        data = ctx.read(name, MAX_FILE)
    except FileTooLarge:
        raise Failed(fail(f"{name} is more than {MAX_FILE} bytes; a compose file that large is not read",
                          reason="too_large", hint="a compose file for two services is under 1 KiB")) from None
    except OSError:
        raise Failed(fail(f"{name} is not a regular file", reason="missing", hint="hand in compose.yaml itself")) from None
    try:
        doc = yaml.safe_load(data.decode(errors="replace"))
    except RecursionError:
        raise Failed(fail(f"{name} nests too deeply to be a compose file", reason="invalid_yaml",
                          hint="a compose file has a few levels: services, a service, its keys")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise Failed(fail(f"{name} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}",
                          reason="invalid_yaml", hint="indent with spaces only, two per level, and put a space "
                          "after every colon; a value with a colon in it needs quotes (\"127.0.0.1::8000\")"))
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict) or not doc["services"]:
        raise Failed(fail(f"{name} has no services: mapping; expected the top level to hold services:",
                          reason="no_services", hint="start the file with services: and one entry per container"))
    return name, doc


def short(value, budget: int = 200) -> str:
    """``value`` as YAML-ish text of at most ``budget`` characters, visiting as little of it as that needs.

    A hand-in's YAML may use anchors to nest one list in itself many times over (or in itself): repr() or
    json.dumps() of that would run for ever or fail, so nothing of the document goes out unshortened."""
    out: list[str] = []
    left = [budget]

    def put(text: str) -> bool:
        out.append(text[:left[0]])
        left[0] -= len(text)
        return left[0] > 0

    def walk(v, depth: int) -> bool:
        if depth > 4:
            return put("…")
        if isinstance(v, dict):
            if not put("{"):
                return False
            for i, (k, x) in enumerate(v.items()):
                if (i and not put(", ")) or not put(f"{k}: ") or not walk(x, depth + 1):
                    return False
            return put("}")
        if isinstance(v, list):
            if not put("["):
                return False
            for i, x in enumerate(v):
                if (i and not put(", ")) or not walk(x, depth + 1):
                    return False
            return put("]")
        return put(str(v))

    if not walk(value, 0):
        out.append("…")
    return "".join(out)


def _service_def(ctx, path: str, service: str) -> tuple[str, dict]:
    name, doc = read_file(ctx, path)
    svc = doc["services"].get(service)
    if not isinstance(svc, dict):
        raise Failed(fail(f"{name} has no service {service} (it has: {short(list(doc['services']))})",
                          reason="no_service", hint=f"name the service exactly {service}: under services:"))
    return name, svc


@check("compose.file", path=FILE, services=Param(list, default=[], doc="services it must define"))
def compose_file(ctx, path="", services=()):
    """The compose file parses and defines the services"""
    name, doc = read_file(ctx, path)
    have = [short(s, 40) for s in list(doc["services"])[:20]]
    missing = [s for s in services if s not in doc["services"]]
    if missing:
        return fail(f"{name} defines the services {', '.join(have)}; expected also {', '.join(missing)}",
                    reason="no_service", hint=f"add {', '.join(missing)} under services:", services=have)
    extra = " (a version: key, which Compose v2 ignores)" if "version" in doc else ""
    return ok(f"{name} parses and defines {', '.join(have)}{extra}", services=have)


@check("compose.depends_healthy", service=SERVICE, dependency=Param(str, doc="the service it must wait for"),
       path=FILE)
def depends_healthy(ctx, service, dependency, path=""):
    """The service waits for the other to be healthy before it starts (depends_on, condition: service_healthy)"""
    on = dependency
    name, svc = _service_def(ctx, path, service)
    deps = svc.get("depends_on")
    if isinstance(deps, list):
        listed = on in [d for d in deps if isinstance(d, str)]
        return fail(f"{service} depends_on {on} in {name} as a list"
                    + (" (start order only)" if listed else f" that does not name {on}")
                    + f"; expected {on}: {{condition: service_healthy}}", reason="start_order" if listed else "missing",
                    hint=f"a list only orders the starts: {service} starts as soon as {on}'s container has started, "
                         f"before {on} accepts connections. Write depends_on: {{{on}: {{condition: service_healthy}}}} "
                         f"(and give {on} a healthcheck)", depends_on=short(deps))
    if not isinstance(deps, dict) or on not in deps:
        return fail(f"{service} in {name} has no depends_on {on}; expected it to wait until {on} is healthy",
                    reason="missing", hint=f"under {service}: depends_on: {{{on}: {{condition: service_healthy}}}}",
                    depends_on=short(deps))
    cond = (deps[on] or {}).get("condition") if isinstance(deps[on], dict) else None
    if cond != "service_healthy":
        said = short(cond, 40) if cond else "(none: service_started)"
        return fail(f"{service} depends_on {on} with condition {said}; "
                    f"expected service_healthy", reason="wrong_condition",
                    hint="service_started only waits for the container to start; service_healthy waits for its "
                         "healthcheck to pass", depends_on=short(deps))
    return ok(f"{service} waits for {on} to be healthy (depends_on with condition: service_healthy)",
              depends_on=short(deps))
