"""Lint-like checks of single Dockerfile instructions: exec form, absolute WORKDIR, COPY not ADD, no
MAINTAINER, and RUN lines whose `source`, `export` or `cd` does not do what it seems to.

Like the rest of the dockerfile family, they read the parsed file (``dockerfile.load``) and need no daemon.
"""

from __future__ import annotations

import json
import os
import re
import shlex

from .base import Param, check, fail, ok
from .dockerfile import PATH, _stage_vars, _substitute, load

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tar.lz")
SHELL_OPS = {"&&", "||", "|", ";", ">", ">>", "<", "&", "2>", "2>&1"}


def _exec_array(value: str):
    """The JSON array of an exec-form instruction, or None when it is shell form."""
    if not value.lstrip().startswith("["):
        return None
    try:
        arr = json.loads(value)
    except ValueError:
        return "invalid"
    return arr if isinstance(arr, list) and all(isinstance(x, str) for x in arr) else "invalid"


def _exec_suggestion(instruction: str, command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if any(w in SHELL_OPS for w in words) or "$" in command:
        return f'{instruction} ["sh", "-c", {json.dumps(command)}]'  # needs a shell: pipes, &&, $VARS
    return f"{instruction} {json.dumps(words)}"


def _replaced_note(instrs: list, n: int) -> str:
    """The note for an instruction a later one of its kind replaces in the same stage (it has no effect)."""
    i = instrs[n]
    later = next((j for j in instrs[n + 1:] if j.instruction == i.instruction or j.instruction == "FROM"), None)
    if later is not None and later.instruction == i.instruction:
        return f" (the {i.instruction} on line {later.line} replaces it, so it has no effect anyway)"
    return ""


def _exec_form_finding(i, overridden: str) -> dict | None:
    """What is wrong with the form of one CMD/ENTRYPOINT: shell form, JSON that is not, or one string for many
    words; None when it is a proper exec form."""
    arr = _exec_array(i.value)
    if arr is None:
        return {"reason": "shell_form", "line": i.line, "text": i.content,
                "message": f"{i.instruction} is in shell form ({i.quote()}); expected exec form like "
                           f"`{_exec_suggestion(i.instruction, i.value)}`{overridden}"}
    if arr == "invalid":
        return {"reason": "invalid_json", "line": i.line, "text": i.content,
                "message": f"{i.quote()} looks like exec form but is not valid JSON, so Docker runs it "
                           f"as a shell command; expected a JSON array with double quotes{overridden}"}
    if len(arr) == 1 and len(arr[0].split()) > 1:
        return {"reason": "single_string_exec", "line": i.line, "text": i.content,
                "message": f"{i.quote()} is an exec-form array with ONE element, so Docker will look for "
                           f"a program literally named \"{arr[0]}\"; expected one element per word, "
                           f"like `{i.instruction} {json.dumps(arr[0].split())}`{overridden}"}
    return None


EXEC_FORM_ORDER = ("single_string_exec", "invalid_json", "shell_form")  # the worst first: it is the reason
EXEC_FORM_HINTS = {
    "single_string_exec": "split the command into words: each word its own JSON string, "
                          "e.g. [\"python3\", \"app.py\"], not [\"python3 app.py\"].",
    "invalid_json": "JSON needs double quotes: CMD [\"python3\", \"app.py\"], not ['python3', 'app.py'].",
    "shell_form": "write it as a JSON array so the program runs as PID 1 and receives signals "
                  "(docker stop), without a /bin/sh -c wrapper.",
}


def _exec_form_failure(findings: list[dict]):
    reason = min((f["reason"] for f in findings), key=EXEC_FORM_ORDER.index)
    return fail("; ".join(f["message"] for f in findings), reason=reason,
                hint=" ".join(EXEC_FORM_HINTS[r] for r in EXEC_FORM_ORDER if any(f["reason"] == r for f in findings)),
                findings=findings)


def _exec_form_passed(present: list, wanted: list[str], path: str):
    if not present:
        return ok(f"no {' or '.join(wanted)} in {path}: nothing to check", checked=[])
    return ok(f"{', '.join(i.instruction for i in present)} in exec form", checked=[i.quote() for i in present])


@check("dockerfile.exec_form", path=PATH,
       instructions=Param(list, default=["CMD", "ENTRYPOINT"], doc="instructions that must use exec form"))
def exec_form(ctx, path="Dockerfile", instructions=("CMD", "ENTRYPOINT")):
    """CMD and ENTRYPOINT use exec (JSON array) form"""
    df = load(ctx, path)
    wanted = [x.upper() for x in instructions]
    found = (_exec_form_finding(i, _replaced_note(df.instrs, n)) for n, i in enumerate(df.instrs)
             if i.instruction in wanted)
    findings = [f for f in found if f is not None]
    if findings:
        return _exec_form_failure(findings)
    return _exec_form_passed([i for i in df.instrs if i.instruction in wanted], wanted, path)

@check("dockerfile.workdir_absolute", path=PATH)
def workdir_absolute(ctx, path="Dockerfile"):
    """Every WORKDIR is written absolute (Docker takes a relative one, resolved against the WORKDIR before it)"""
    df = load(ctx, path)
    workdirs = df.get("WORKDIR")
    if not workdirs:
        return fail("there is no WORKDIR, so commands run in / ; expected e.g. `WORKDIR /app`", reason="no_workdir",
                    hint="add `WORKDIR /app` before COPY and RUN: it creates the directory and makes paths predictable")
    relative = []
    for stage in df.stages:
        env = _stage_vars(stage)
        for i in stage.get("WORKDIR"):
            value = _substitute(i.value.strip().strip('"'), env)
            if not value.startswith(("/", "$")):
                relative.append(i)
    if relative:
        return fail("relative WORKDIR: " + "; ".join(i.quote() for i in relative)
                    + "; expected absolute paths like `WORKDIR /app`", reason="relative",
                    relative=[i.quote() for i in relative],
                    hint="a relative WORKDIR depends on the WORKDIR before it (often the base image's); "
                         "start it with /")
    return ok("WORKDIR is absolute: " + ", ".join(i.value for i in workdirs), workdirs=[i.value for i in workdirs])

def _add_sources(value: str) -> list[str]:
    arr = _exec_array(value)
    words = arr if isinstance(arr, list) else value.split()
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


@check("dockerfile.copy_not_add", path=PATH)
def copy_not_add(ctx, path="Dockerfile"):
    """Local files are copied with COPY, not ADD"""
    df = load(ctx, path)
    bad = []
    for i in df.get("ADD"):
        local = [s for s in _add_sources(i.value)
                 if not re.match(r"^(https?|git|ssh)://|^git@", s) and not s.lower().endswith(TAR_SUFFIXES)]
        if local:
            bad.append(i)
    if bad:
        return fail("ADD used for local files: " + "; ".join(i.quote() for i in bad)
                    + "; expected COPY", reason="add_for_copy", lines=[i.quote() for i in bad],
                    hint="use COPY for files from the build context; ADD has extra magic "
                         "(downloads URLs, unpacks tar archives) you do not want by accident")
    return ok(f"no ADD of local files ({len(df.get('ADD'))} ADD, {len(df.get('COPY'))} COPY)")


@check("dockerfile.no_maintainer", path=PATH)
def no_maintainer(ctx, path="Dockerfile"):
    """The deprecated MAINTAINER instruction is not used"""
    df = load(ctx, path)
    found = df.get("MAINTAINER")
    if found:
        who = found[0].value.strip().strip('"')
        return fail(f"MAINTAINER is deprecated ({found[0].quote()}); expected a LABEL instead",
                    reason="maintainer", lines=[i.quote() for i in found],
                    hint=f'replace it with `LABEL org.opencontainers.image.authors="{who}"`')
    return ok("no MAINTAINER instruction")

def _commands(script: str) -> list[list[str]]:
    """Simple commands of a shell line, split at && || ; | (good enough to spot a lone cd/export/source)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        tokens = script.split()
    out, cur = [], []
    for t in tokens:
        if t and set(t) <= set(";&|"):
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        out.append(cur)
    return out


SHELL_HINTS = {
    "run_source": "sh (dash/busybox) has no `source`: use `. file`, or `SHELL [\"/bin/bash\", \"-c\"]` before the "
                  "RUN; and since nothing sourced survives the RUN, set the variables you need with ENV.",
    "run_export": "each RUN is a new shell: an `export` ends with it. Use `ENV NAME=value` to set a variable "
                  "for later steps and for the container.",
    "run_cd": "each RUN is a new shell: a `cd` ends with it. Use `WORKDIR /path` to change directory for later "
              "steps (or `cd dir && command` within one RUN).",
}


def _is_bash_like(shell) -> bool:
    """Whether a SHELL instruction switches RUN to a shell that has `source` (bash, zsh, ksh)."""
    arr = _exec_array(shell.value)
    return isinstance(arr, list) and bool(arr) and os.path.basename(arr[0]) in ("bash", "zsh", "ksh")


def _pitfall(i, words: list[str], useful_after: bool, bash: bool) -> tuple | None:
    """(reason, instruction, message) when one simple command of a RUN is a pitfall: `source` in sh, or an
    `export`/`cd` that nothing after it in the same RUN uses."""
    if words[0] == "source" and not bash:
        return ("run_source", i, f"line {i.line}: `{i.content}` uses `source`, which /bin/sh "
                                 f"(dash on Debian images) does not have (\"source: not found\")")
    if words[0] == "export" and not useful_after:
        return ("run_export", i, f"line {i.line}: `{i.content}` exports a variable that is "
                                 f"gone when this RUN ends; later steps do not see it")
    if words[0] == "cd" and not useful_after:
        return ("run_cd", i, f"line {i.line}: `{i.content}` changes directory only for this "
                             f"RUN; the next step starts in the WORKDIR again")
    return None


def _run_pitfalls(i, bash: bool) -> list[tuple]:
    """The pitfalls of one shell-form RUN, command by command."""
    cmds = _commands(i.value)
    found = []
    for n, words in enumerate(cmds):
        useful_after = any(w[0] not in ("export", "cd", "source", ".") for w in cmds[n + 1:])
        found.append(_pitfall(i, words, useful_after, bash))
    return [f for f in found if f is not None]


def _stage_pitfalls(stage) -> list[tuple]:
    """The pitfalls of a stage's shell-form RUNs, each judged by the SHELL in force where it stands."""
    bash, found = False, []
    for i in stage.instrs:
        if i.instruction == "SHELL":
            bash = _is_bash_like(i)
        if i.instruction == "RUN" and _exec_array(i.value) is None:
            found += _run_pitfalls(i, bash)
    return found


@check("dockerfile.shell_pitfalls", path=PATH)
def shell_pitfalls(ctx, path="Dockerfile"):
    """RUN steps avoid `source`, and `export`/`cd` that do not persist"""
    df = load(ctx, path)
    findings = [f for stage in df.stages for f in _stage_pitfalls(stage)]
    if not findings:
        return ok(f"no shell pitfalls in {len(df.get('RUN'))} RUN instruction(s)")
    reasons = list(dict.fromkeys(f[0] for f in findings))
    return fail(f"{len(findings)} RUN pitfall(s): " + "; ".join(f[2] for f in findings)
                + "; expected ENV/WORKDIR (or `.`) instead", reason=reasons[0],
                hint=" ".join(SHELL_HINTS[r] for r in reasons),
                findings=[{"reason": r, "line": i.line, "text": i.content} for r, i, _ in findings])
