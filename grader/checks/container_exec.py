"""Checks inside a running container: a command run in it with ``docker exec``, and its log."""

from __future__ import annotations

import re

from .base import Param, check, fail, ok
from .container import NAME, _clip, _cname, _inspect, _running, _state_text


def container_env(ins: dict) -> dict[str, str]:
    """The environment the container's processes start with: Docker's HOSTNAME, then Config.Env over it."""
    env = {"HOSTNAME": (ins.get("Config") or {}).get("Hostname") or ""}
    env.update(e.split("=", 1) if "=" in e else (e, "") for e in (ins.get("Config") or {}).get("Env") or [])
    return env


_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand_env(template: str, env: dict[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced as a shell would, from ``env`` (unset: empty)."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), template)


@check("container.exec", name=NAME, command=Param((list, str), doc="the command to run inside the container"),
       stdout_contains=Param(str, default=None), exit_code=Param(int, default=0),
       user=Param(str, default=None),
       expand=Param(bool, default=False, doc="stdout_contains names $VARIABLES of the container's own environment "
                                             "(HOSTNAME included): each is replaced by its value there, so only a "
                                             "shell inside the container that expanded them wrote the text"))
def exec_(ctx, name, command, stdout_contains=None, exit_code=0, user=None, expand=False):
    """A command run inside the container gives the expected result."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    shown = command if isinstance(command, str) else " ".join(command)
    _running(ctx, ins, name, f"running `{shown}` in it")
    template = stdout_contains
    if expand and stdout_contains is not None:
        stdout_contains = expand_env(stdout_contains, container_env(ins))
    code, out = ctx.exec(cname, command, user=user)
    evidence = {"command": shown, "exit_code": code, "output": _clip(out, 1000)}
    if expand and template is not None:
        evidence["expected"] = stdout_contains
    if code != exit_code:
        if code in (126, 127) and exit_code not in (126, 127):
            hint = f"the command could not be started in {cname}: is the program installed in the image?"
        else:
            hint = f"run it yourself to see why: docker exec {cname} {shown}"
        return fail(f"`{shown}` in {cname} exited with {code}; expected {exit_code}"
                    + (f"; output: {_clip(out, 200)!r}" if out.strip() else ""), reason="wrong_exit_code",
                    hint=hint, **evidence)
    if stdout_contains is not None and stdout_contains not in out:
        want = f"{stdout_contains!r} ({template} expanded in {cname})" if expand else repr(stdout_contains)
        reason = "not_expanded" if expand else "missing_output"
        return fail(f"the output of `{shown}` in {cname} does not contain {want}; it was "
                    f"{_clip(out, 200)!r}", reason=reason, **evidence,
                    hint=f"run it yourself and compare: docker exec {cname} {shown}" + (
                        f"; the values must come from {cname}'s own environment, expanded by a shell inside it "
                        f"(sh -c '...' in single quotes), not typed in or expanded by your notebook's shell"
                        if reason == "not_expanded" else ""))
    return ok(f"`{shown}` in {cname} exited with {code}"
              + (f" and printed {stdout_contains!r}" if stdout_contains else ""), **evidence)


@check("container.logs_contain", name=NAME, text=Param(str, doc="text the log must contain"),
       tail=Param(int, default=200, doc="how many of the last lines to search"))
def logs_contain(ctx, name, text, tail=200):
    """The container's log contains the expected text."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    logs = ctx.logs(cname, tail=tail)
    line = next((ln for ln in logs.splitlines() if text in ln), None)
    if line is not None:
        return ok(f"the log of {cname} contains {text!r}", line=_clip(line, 300))
    last = logs.strip().splitlines()[-3:]
    if not last:
        return fail(f"container {cname} has logged nothing; expected {text!r} in its log", reason="missing_text",
                    hint=f"a container's log is what its main process writes to stdout/stderr; is it "
                         f"{_state_text(ins)} as it should be? docker logs {cname}", log_tail="")
    return fail(f"the last {tail} log lines of {cname} do not contain {text!r}; they end with: {' | '.join(last)!r}",
                reason="missing_text", hint=f"docker logs {cname} shows the whole log", log_tail="\n".join(last))
