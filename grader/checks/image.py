"""Checks of a built image: its configuration (inspect data), its files, and whether it serves.

``image`` is a tag given to ``build.succeeds`` earlier in the same run (resolved by
the context to the image it built) or any image the sandbox holds. Containers
these checks start are throwaway, labeled, capped and have no network; services
are published on 127.0.0.1 only, and only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import http.client
import shlex
import time

from dockyard.config import human_size
from dockyard.errors import DockerAPIError, ImageNotFound

from .base import Failed, Param, check, fail, ok
from .httpget import Budget, OutOfTime, get_once

IMAGE = Param(str, doc="a tag built by build.succeeds in this run, or any local image")
ROOT_USERS = ("", "root", "0")


def _config(ctx, image: str) -> dict:
    return ctx.image(image).get("Config") or {}


def _is_root(user: str) -> bool:
    return user.split(":")[0].strip() in ROOT_USERS


# --- configuration -------------------------------------------------------------------------------

@check("image.user", image=IMAGE, not_root=Param(bool, default=True),
       equals=Param((str, int), default=None, doc="the exact user (name or uid, or user:group)"))
def user(ctx, image, not_root=True, equals=None):
    """The image runs as a non-root user"""
    equals = None if equals is None else str(equals)
    value = _config(ctx, image).get("User") or ""
    shown = f"`{value}`" if value else "root (Config.User is empty)"
    if equals is not None and value != equals and value.split(":")[0] != equals:
        return fail(f"the image runs as {shown}; expected user `{equals}`", reason="wrong_user", user=value,
                    hint=f"end the Dockerfile with `USER {equals}`")
    if not_root and _is_root(value):
        return fail(f"the image runs as {shown}; expected a non-root user", reason="root", user=value,
                    hint="create a user (`RUN useradd --create-home app`) and add `USER app` after the steps "
                         "that need root")
    return ok(f"the image runs as {shown}", user=value)


def _port_key(port) -> str:
    text = str(port)
    return text if "/" in text else f"{text}/tcp"


@check("image.exposed_ports", image=IMAGE, ports=Param(list, doc='ports, e.g. [8000] or ["8000/tcp"]'))
def exposed_ports(ctx, image, ports=()):
    """The image exposes the app's ports"""
    exposed = sorted((_config(ctx, image).get("ExposedPorts") or {}))
    missing = [_port_key(p) for p in ports if _port_key(p) not in exposed]
    if missing:
        wanted = ", ".join(map(_port_key, ports))
        return fail(f"the image exposes {', '.join(exposed) or 'no ports'}; expected {wanted}",
                    reason="not_exposed", exposed=exposed, missing=missing,
                    hint="add `EXPOSE " + " ".join(m.removesuffix("/tcp") for m in missing) + "` to the Dockerfile")
    return ok(f"the image exposes {', '.join(exposed)}", exposed=exposed)


def _env(cfg: dict) -> dict:
    return dict(e.split("=", 1) if "=" in e else (e, "") for e in cfg.get("Env") or [])


@check("image.env", image=IMAGE, name=Param(str, doc="the variable's name"),
       value=Param(str, default=None, doc="the exact value (any value when omitted)"))
def env(ctx, image, name, value=None):
    """The image sets the environment variable"""
    variables = _env(_config(ctx, image))
    if name not in variables:
        return fail(f"{name} is not set in the image; expected {name}={value if value is not None else '...'}",
                    reason="not_set", names=sorted(variables),
                    hint=f"set it with `ENV {name}={value if value is not None else '<value>'}` "
                         f"(a RUN export does not last beyond its step)")
    if value is not None and variables[name] != value:
        return fail(f"{name}={variables[name]!r} in the image; expected {name}={value!r}", reason="wrong_value",
                    actual=variables[name], hint=f"change the ENV line to `ENV {name}={value}`")
    return ok(f"{name}={variables[name]!r}", value=variables[name])


def _shell_wrapped(cmd) -> bool:
    return isinstance(cmd, list) and len(cmd) >= 2 and cmd[0] in ("/bin/sh", "sh") and cmd[1] == "-c"


def _as_list(x):
    return shlex.split(x) if isinstance(x, str) else x


@check("image.entrypoint_cmd", image=IMAGE,
       entrypoint=Param((list, str), default=None, doc="expected Config.Entrypoint"),
       cmd=Param((list, str), default=None, doc="expected Config.Cmd"),
       exec_form=Param(bool, default=True, doc="neither is stored as the shell form's [/bin/sh, -c, ...]"))
def entrypoint_cmd(ctx, image, entrypoint=None, cmd=None, exec_form=True):
    """ENTRYPOINT and CMD are what the task asks, in exec form"""
    cfg = _config(ctx, image)
    actual = {"entrypoint": cfg.get("Entrypoint"), "cmd": cfg.get("Cmd")}
    for name, want in (("entrypoint", entrypoint), ("cmd", cmd)):
        if want is not None and (actual[name] or []) != _as_list(want):
            return fail(f"{name.upper()} is {actual[name]}; expected {_as_list(want)}", reason=f"wrong_{name}",
                        hint=f"set it with `{name.upper()} {_json(_as_list(want))}`", **actual)
    if exec_form:
        for name in ("entrypoint", "cmd"):
            if _shell_wrapped(actual[name]):
                body = " ".join(actual[name][2:])
                return fail(f"{name.upper()} is in shell form (stored as {actual[name]}); expected exec form like "
                            f"{name.upper()} {_json(_split(body))}", reason="shell_form",
                            hint="write it as a JSON array so the program is PID 1 and gets the stop signal",
                            **actual)
    return ok(f"ENTRYPOINT {actual['entrypoint']}, CMD {actual['cmd']}", **actual)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _json(x) -> str:
    import json

    return json.dumps(x)


@check("image.label", image=IMAGE, key=Param(str), value=Param(str, default=None))
def label(ctx, image, key, value=None):
    """The image carries the label"""
    labels = _config(ctx, image).get("Labels") or {}
    if key not in labels:
        return fail(f"label {key} is not set; expected {key}={value if value is not None else '...'}",
                    reason="not_set", labels=sorted(labels),
                    hint=f'add `LABEL {key}="{value if value is not None else "..."}"` to the Dockerfile')
    if value is not None and labels[key] != value:
        return fail(f"label {key}={labels[key]!r}; expected {value!r}", reason="wrong_value", actual=labels[key],
                    hint=f'change it to `LABEL {key}="{value}"`')
    return ok(f"label {key}={labels[key]!r}", value=labels[key])


@check("image.workdir", image=IMAGE, equals=Param(str, default=None))
def workdir(ctx, image, equals=None):
    """The image sets an absolute working directory"""
    wd = _config(ctx, image).get("WorkingDir") or ""
    if not wd:
        return fail(f"no working directory is set (it is /); expected {equals or 'a WORKDIR like /app'}",
                    reason="not_set", hint=f"add `WORKDIR {equals or '/app'}` before COPY and RUN")
    if not wd.startswith("/"):
        return fail(f"the working directory {wd!r} is relative; expected an absolute path", reason="relative",
                    workdir=wd, hint="start WORKDIR with /")
    if equals is not None and wd.rstrip("/") != equals.rstrip("/"):
        return fail(f"the working directory is {wd}; expected {equals}", reason="wrong_value", workdir=wd,
                    hint=f"use `WORKDIR {equals}`")
    return ok(f"the working directory is {wd}", workdir=wd)


@check("image.volumes", image=IMAGE, paths=Param(list, doc="paths declared with VOLUME"))
def volumes(ctx, image, paths=()):
    """The image declares the volumes"""
    declared = sorted(_config(ctx, image).get("Volumes") or {})
    missing = [p for p in paths if p.rstrip("/") not in [d.rstrip("/") for d in declared]]
    if missing:
        return fail(f"the image declares {', '.join(declared) or 'no volumes'}; expected {', '.join(paths)}",
                    reason="not_declared", declared=declared, missing=missing,
                    hint="add `VOLUME " + _json(missing) + "` to the Dockerfile")
    return ok(f"the image declares {', '.join(declared)}", declared=declared)


@check("image.size", image=IMAGE, max_mb=Param(float, doc="the largest allowed size in MiB"))
def size(ctx, image, max_mb):
    """The image is small enough"""
    n = ctx.image(image).get("Size") or 0
    mib = n / 2**20
    if mib > max_mb:
        return fail(f"the image is {human_size(n)} ({mib:.1f} MiB); expected at most {max_mb:g} MiB",
                    reason="too_big", size=n,
                    hint="start from a slim base (python:3.11-slim, not a full distro), clean up in the same RUN "
                         "(`apt-get install --no-install-recommends ... && rm -rf /var/lib/apt/lists/*`), keep junk "
                         "out with .dockerignore, or build in one stage and COPY --from only the result")
    return ok(f"the image is {human_size(n)} ({mib:.1f} MiB, at most {max_mb:g} allowed)", size=n)


@check("image.layers", image=IMAGE, max=Param(int, doc="most filesystem layers"))
def layers(ctx, image, max):
    """The image has few layers"""
    count = len((ctx.image(image).get("RootFS") or {}).get("Layers") or [])
    history = [{"created_by": (h.get("CreatedBy") or "")[:100], "size": human_size(h.get("Size") or 0)}
               for h in ctx.image_history(image)[:40]]
    if count > max:
        return fail(f"the image has {count} layers; expected at most {max}", reason="too_many_layers",
                    layers=count, history=history,
                    hint="each RUN, COPY and ADD adds a layer: chain RUN commands with &&, or use a multi-stage "
                         "build (the base image's layers count too)")
    return ok(f"the image has {count} layers (at most {max} allowed)", layers=count, history=history)


# --- running things in the image ------------------------------------------------------------------

class _NoProgram(Exception):
    pass


class _NoUser(Exception):
    pass


def _run(ctx, image, cmd, **kw) -> tuple[int, str]:
    """ctx.run, but a program missing from the image is an answer (``_NoProgram``), not an error."""
    try:
        return ctx.run(image, cmd, **kw)
    except ImageNotFound:
        raise
    except DockerAPIError as exc:
        text = str(exc).lower()
        if "executable file not found" in text or "no such file or directory" in text:
            raise _NoProgram(str(exc)) from exc
        if "unable to find user" in text:
            raise _NoUser(str(exc)) from exc
        raise


def _stat(ctx, image: str, path: str) -> dict | None:
    """mode/uid/gid/user/group of ``path`` in the image, or None when it does not exist."""
    try:
        code, out = _run(ctx, image, ["stat", "-L", "-c", "%a %u %g %U %G", path], entrypoint=[], user="0")
    except _NoProgram:
        return _ls(ctx, image, path)
    if code != 0:
        if "no such file" in out.lower():
            return None
        raise Failed(fail(f"cannot look at {path} in the image: stat exited {code}: {out.strip()[:200]}",
                          reason="cannot_inspect", hint="the path may lie under a directory nobody can enter"))
    words = out.split()
    return {"mode": words[0], "uid": words[1], "gid": words[2], "user": words[3], "group": words[4]}


def _ls(ctx, image, path):
    """Fallback for images without stat: `ls -ldn` (ids) and `ls -ld` (names)."""
    try:
        code, numeric = _run(ctx, image, ["ls", "-ldn", path], entrypoint=[], user="0")
        _, named = _run(ctx, image, ["ls", "-ld", path], entrypoint=[], user="0")
    except _NoProgram:
        raise Failed(fail(f"cannot look at {path}: the image has neither `stat` nor `ls` (FROM scratch or "
                          f"distroless?); expected a shell toolset to inspect files", reason="cannot_inspect",
                          hint="the grader inspects files with stat/ls/cat inside the image"))
    if code != 0:
        return None
    perms, _, uid, gid = numeric.split()[:4]
    _, _, user_name, group = named.split()[:4]
    bits = "".join("0" if c in "-ST" else "1" for c in perms[1:10])
    return {"mode": f"{int(bits, 2):o}", "uid": uid, "gid": gid, "user": user_name, "group": group}


@check("image.file", image=IMAGE, path=Param(str, doc="absolute path inside the image"),
       exists=Param(bool, default=True), contains=Param(str, default=None, doc="text the file must contain"),
       mode=Param((str, int), default=None, doc='octal permissions, quoted in YAML: "644"'),
       owner=Param((str, int), default=None, doc='user or user:group, by name or id, e.g. "app" or "1000:1000"'))
def file(ctx, image, path, exists=True, contains=None, mode=None, owner=None):
    """The file is in the image as the task asks"""
    ctx.image(image)  # a failed build or a missing image ends the check here, before any container
    st = _stat(ctx, image, path)
    if st is None:
        if not exists:
            return ok(f"{path} is not in the image, as expected", exists=False)
        return fail(f"{path} does not exist in the image; expected it to be there", reason="missing",
                    hint="check the destination of COPY (a trailing / copies into a directory) and the WORKDIR "
                         "it is relative to; `docker run --rm IMAGE ls -l DIR` shows what is there")
    if not exists:
        return fail(f"{path} exists in the image (mode {st['mode']}, owner {st['user']}); expected it not to",
                    reason="present", **st,
                    hint="keep it out: add it to .dockerignore, or delete it in the same RUN that creates it")
    if mode is not None and int(st["mode"], 8) != int(str(mode), 8):
        return fail(f"{path} has mode {st['mode']}; expected {mode}", reason="wrong_mode", **st,
                    hint=f"set it with `COPY --chmod={mode} ...` or `RUN chmod {mode} {path}`")
    if owner is not None:
        want_user, _, want_group = str(owner).partition(":")
        if want_user not in (st["user"], st["uid"]) or (want_group and want_group not in (st["group"], st["gid"])):
            return fail(f"{path} is owned by {st['user']}:{st['group']} ({st['uid']}:{st['gid']}); expected {owner}",
                        reason="wrong_owner", **st,
                        hint=f"use `COPY --chown={owner} ...` (COPY makes files owned by root otherwise)")
    if contains is not None:
        code, out = _run(ctx, image, ["cat", path], entrypoint=[], user="0")
        if contains not in out:
            return fail(f"{path} does not contain {contains!r}; it starts with {out[:120]!r}", reason="no_match",
                        **st, hint="check which file COPY puts there (an older copy, or another file of that name)")
    return ok(f"{path} is in the image (mode {st['mode']}, owner {st['user']}:{st['group']})", **st)


@check("image.command", image=IMAGE, command=Param((list, str), doc="the command to run in a new container"),
       exit_code=Param(int, default=0), stdout_contains=Param(str, default=None, doc="text expected in the output"),
       user=Param(str, default=None), timeout=Param(int, default=30),
       keep_entrypoint=Param(bool, default=False, doc="pass the command to the image's ENTRYPOINT"))
def command(ctx, image, command, exit_code=0, stdout_contains=None, user=None, timeout=30, keep_entrypoint=False):
    """The command runs in the image as expected"""
    ctx.image(image)
    cmd = _split(command) if isinstance(command, str) else list(command)
    if cmd:
        shown, program = f"`{shlex.join(cmd)}`", cmd[0]
    else:  # an empty command runs the image's own ENTRYPOINT/CMD
        cfg = _config(ctx, image)
        default = list(cfg.get("Entrypoint") or []) + list(cfg.get("Cmd") or [])
        shown, program = "the image's default command", (default[0] if default else "(none)")
    try:
        code, out = _run(ctx, image, cmd, timeout=timeout, user=user, entrypoint=None if keep_entrypoint else [])
    except _NoProgram as exc:
        return fail(f"{shown} could not start: {str(exc).splitlines()[0][:300]}; expected exit code {exit_code}",
                    reason="not_found", hint=f"`{program}` is not installed in the image (or not on PATH): install "
                                             f"it in a RUN step, use the full path, or (exec form) give one word "
                                             f"per array element")
    except _NoUser as exc:
        return fail(f"{shown} could not start: {str(exc).splitlines()[0][:300]}", reason="no_such_user",
                    hint="USER names a user the image does not have: create it in a RUN step first "
                         "(useradd on Debian), or use a numeric id such as USER 10001")
    ev = {"command": cmd, "exit_code": code, "output": out[-2000:]}
    if code == 124 and "[killed after" in out:
        return fail(f"{shown} did not finish within {timeout} s; expected exit code {exit_code}", reason="timeout",
                    hint="the command waits for something (input, network: containers here have none)", **ev)
    if code != exit_code:
        return fail(f"{shown} exited with {code}; expected {exit_code}. Output: {out.strip()[-300:]!r}",
                    reason="wrong_exit_code", hint="run it yourself: `docker run --rm IMAGE " + shlex.join(cmd) + "`",
                    **ev)
    if stdout_contains is not None and stdout_contains not in out:
        return fail(f"the output of {shown} does not contain {stdout_contains!r}; it was {out.strip()[-300:]!r}",
                    reason="no_match", hint="compare the output above with what the task expects", **ev)
    return ok(f"{shown} exited with {code}" + (f" and printed {stdout_contains!r}" if stdout_contains else ""),
              **ev)


# --- serving HTTP ----------------------------------------------------------------------------------

def _host_port(info: dict, port: int) -> str | None:
    bindings = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp") or []
    return next((b.get("HostPort") for b in bindings if b.get("HostPort")), None)


@check("image.serves", image=IMAGE, port=Param(int, doc="the port the app listens on inside the container"),
       path=Param(str, default="/"), expect_status=Param(int, default=200),
       body_contains=Param(str, default=None), timeout=Param(int, default=20))
def serves(ctx, image, port, path="/", expect_status=200, body_contains=None, timeout=20):
    """A container of the image answers HTTP on the port"""
    ctx.image(image)  # never let `docker run` try to pull a name that was not built
    deadline = time.monotonic() + timeout
    try:
        info = ctx.start_service(image, port)
    except ImageNotFound:
        raise
    except DockerAPIError as exc:
        return fail(f"the container did not start: {str(exc).splitlines()[0][:300]}; expected it to serve on {port}",
                    reason="start_failed", hint="the ENTRYPOINT/CMD names a program the image does not have, or "
                                                "is one string where exec form needs one word per element")
    cid, last_error = info["Id"], None
    budget = Budget(timeout)  # every GET's share of the check's time: a server that trickles cannot hold it
    while True:
        info = ctx.container(cid)
        state = info.get("State") or {}
        if not state.get("Running"):
            logs = ctx.logs(cid, tail=20)
            return fail(f"the container exited with code {state.get('ExitCode')} before answering on port {port}; "
                        f"expected it to keep running. Last log lines: {logs.strip()[-400:]!r}", reason="exited",
                        exit_code=state.get("ExitCode"), logs=logs[-3000:],
                        hint="the logs show why the app stopped; `docker run --rm IMAGE` shows the same")
        host_port = _host_port(info, port)
        if host_port:
            try:
                status, raw = get_once(int(host_port), path if path.startswith("/") else "/" + path, budget, 65536)
                body = raw.decode(errors="replace")
                break
            except OutOfTime as exc:
                last_error = str(exc)
            except (OSError, http.client.HTTPException) as exc:  # refused/reset while the app starts up
                last_error = f"{exc.__class__.__name__}: {exc}"
        if time.monotonic() > deadline:
            logs = ctx.logs(cid, tail=20)
            exposed = sorted((info.get("Config") or {}).get("ExposedPorts") or {})
            return fail(f"nothing answered HTTP on port {port} within {timeout} s (last error: {last_error}); "
                        f"expected status {expect_status}", reason="no_answer", last_error=last_error,
                        exposed=exposed, logs=logs[-3000:],
                        hint=f"is the server listening on 0.0.0.0 inside the container, not 127.0.0.1/localhost? "
                             f"is it port {port}, the same as EXPOSE ({', '.join(exposed) or 'none'})?")
        time.sleep(0.3)
    ev = {"url": path, "status": status, "body": body[:500]}
    if status != expect_status:
        return fail(f"GET {path} answered {status}; expected {expect_status}. Body: {body.strip()[:200]!r}",
                    reason="wrong_status", **ev,
                    hint=f"the server runs, but {path} gives {status}: check the route and the files it serves")
    if body_contains is not None and body_contains not in body:
        return fail(f"GET {path} answered {status} without {body_contains!r}; the body starts {body.strip()[:200]!r}",
                    reason="no_match", **ev, hint="the server answers, but not with the expected page")
    return ok(f"GET {path} on port {port} answered {status}"
              + (f" with {body_contains!r}" if body_contains else ""), **ev)
