"""Static checks of a Dockerfile: parsed, never built, so they need no daemon.

Every check takes ``path`` (the Dockerfile, relative to the submission) and
fails with reason ``missing`` / ``unknown_instruction`` when the file cannot be
read, so a spec needs no separate "the file exists" check before the others.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shlex
from pathlib import Path

from dockerfile_parse import DockerfileParser
from dockerfile_parse.util import get_key_val_dictionary

from dockyard.imageref import ImageRef
from dockyard.seed import RECIPES

from .base import Failed, Param, check, fail, ok, read_text

KNOWN = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
         "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}
PATH = Param(str, default="Dockerfile", doc="the Dockerfile, relative to the submission")
MAX_DOCKERFILE = 1 << 20  # bytes of a Dockerfile the grader reads; a real one is a few KiB
LEVELS = ("style", "info", "warning", "error")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tar.lz")
SHELL_OPS = {"&&", "||", "|", ";", ">", ">>", "<", "&", "2>", "2>&1"}


@dataclasses.dataclass
class Instr:
    instruction: str  # upper case
    line: int  # 1-based, where it starts
    content: str  # the text as written, continuation lines joined
    value: str

    def quote(self) -> str:
        return f"line {self.line}: `{self.content}`"


@dataclasses.dataclass
class Stage:
    index: int
    base: str  # image reference after ARG substitution
    name: str | None
    instrs: list[Instr]

    def get(self, *names: str) -> list[Instr]:
        return [i for i in self.instrs if i.instruction in names]


@dataclasses.dataclass
class Dockerfile:
    path: Path
    rel: str
    instrs: list[Instr]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, ref: str) -> Stage | None:
        for s in self.stages:
            if s.name and s.name.lower() == ref.lower():
                return s
        return None

    def lineage(self, stage: Stage | None = None) -> list[Stage]:
        """``stage`` and the earlier stages it is built FROM, oldest first (their settings are inherited)."""
        chain, s = [], stage or self.final
        while s is not None and s not in chain:
            chain.insert(0, s)
            s = self.stage(s.base) if self.stage(s.base) and self.stage(s.base).index < s.index else None
        return chain

    def inherited(self, *names: str) -> list[Instr]:
        return [i for s in self.lineage() for i in s.get(*names)]

    def get(self, *names: str) -> list[Instr]:
        return [i for i in self.instrs if i.instruction in names]


def load(ctx, path: str = "Dockerfile") -> Dockerfile:
    """Read and parse the submission's Dockerfile; ends the check with ``missing``/``unknown_instruction``."""
    full = ctx.path(path)
    if not full.is_file():
        what = "is a directory" if full.is_dir() else "does not exist"
        raise Failed(fail(f"no Dockerfile: {path} {what}; expected a Dockerfile at {path} in the submission",
                          reason="missing", path=path,
                          hint=f"create the file `{path}` (exactly this name, capital D, no extension) "
                               f"next to the files it copies"))
    text = read_text(ctx, path, MAX_DOCKERFILE)
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    instrs = [Instr(s["instruction"].upper(), s["startline"] + 1, " ".join(s["content"].split()), s["value"])
              for s in parser.structure if s["instruction"] != "COMMENT"]
    bad = [i for i in instrs if i.instruction not in KNOWN]
    if bad:
        first = bad[0]
        raise Failed(fail(f"{path} line {first.line} has an unknown instruction {first.instruction!r} "
                          f"(`{first.content}`); expected one of FROM, RUN, COPY, CMD, ...",
                          reason="unknown_instruction", line=first.line, text=first.content,
                          unknown=[i.quote() for i in bad],
                          hint=f"check the spelling of `{first.instruction}` on line {first.line}"
                               + (" (did you mean FROM?)" if first.instruction in ("FORM", "FRM", "FORM:") else "")))
    global_args = {}
    stages: list[Stage] = []
    for i in instrs:
        if i.instruction == "FROM":
            words = [w for w in i.value.split() if not w.startswith("--")]
            base = _substitute(words[0], global_args) if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(len(stages), base, name, []))
        elif stages:
            stages[-1].instrs.append(i)
        elif i.instruction == "ARG":
            global_args.update(_kv(i.value))
        else:
            raise Failed(fail(f"{path} line {i.line} (`{i.content}`) comes before the first FROM; "
                              f"expected FROM first (only ARG may precede it)", reason="no_from", line=i.line,
                              hint="start the Dockerfile with `FROM <base image>`"))
    if not stages:
        raise Failed(fail(f"{path} has no FROM instruction; expected one like `FROM python:3.11-slim`",
                          reason="no_from", hint="start the Dockerfile with `FROM <base image>`"))
    return Dockerfile(full, path, instrs, stages)


def _kv(value: str) -> dict:
    try:
        return get_key_val_dictionary(value)
    except (ValueError, IndexError):
        return {}


def _substitute(text: str, variables: dict) -> str:
    return re.sub(r"\$\{?(\w+)(?::-([^}]*))?\}?",
                  lambda m: str(variables.get(m.group(1)) or m.group(2) or m.group(0)), text)


def _stage_vars(stage: Stage) -> dict:
    out = {}
    for i in stage.get("ARG", "ENV"):
        out.update(_kv(i.value))
    return out


# --- base images ----------------------------------------------------------------------------

def available_bases() -> list[str]:
    """The base images every sandbox holds offline (the seed recipes)."""
    return [r.name for r in RECIPES]


def _is_available(ref: str) -> bool:
    r = ImageRef.parse(ref)
    if ref == "scratch" or (r.registry or "").startswith(("localhost", "127.0.0.1")):
        return True  # a sandbox's own registry: cannot be judged without a daemon
    return any(ImageRef.parse(name).same_repo_and_tag(r) for name in available_bases())


def _offline_hint() -> str:
    return ("the sandbox is offline: it cannot pull from Docker Hub and holds only these base images: "
            + ", ".join(available_bases()) + ". Use one of them instead "
            "(e.g. python:3.11-slim for Python, node:18-slim for Node, debian:bookworm-slim for Ubuntu-style images)")


@check("dockerfile.parses", path=PATH)
def parses(ctx, path="Dockerfile"):
    """The Dockerfile exists and parses"""
    df = load(ctx, path)
    return ok(f"{path} parses: {len(df.instrs)} instructions in {len(df.stages)} stage(s)",
              instructions=len(df.instrs), stages=len(df.stages))


@check("dockerfile.base_image", path=PATH,
       allowed=Param(list, default=[], doc="allowed bases; an entry without a tag allows any tag of that image"),
       require_tag=Param(bool, default=True, doc="the base must name a tag (no implicit :latest)"))
def base_image(ctx, path="Dockerfile", allowed=(), require_tag=True):
    """The final stage builds FROM an allowed, tagged base image this sandbox holds"""
    df = load(ctx, path)
    final = df.final
    from_line = [i for i in df.instrs if i.instruction == "FROM"][final.index]
    ev = {"base": final.base, "line": from_line.line, "stages": [s.base for s in df.stages]}
    parent = df.stage(final.base)
    if parent is not None and parent.index < final.index:
        external = df.lineage()[0].base
        ev["built_from_stage"] = parent.name
    else:
        external = final.base
        base = ImageRef.parse(final.base)
        if require_tag and base.tag is None and base.digest is None and final.base != "scratch":
            return fail(f"FROM {final.base} has no tag, so Docker uses {final.base}:latest; expected a pinned tag "
                        f"({from_line.quote()})", reason="untagged",
                        hint=f"name the version, e.g. `FROM {_suggest(base.name)}`: an untagged image changes "
                             f"under you when a new `latest` is published", **ev)
        if allowed and not any(_allowed(final.base, a) for a in allowed):
            return fail(f"the final stage is FROM {final.base}; expected one of: {', '.join(allowed)}",
                        reason="not_allowed", allowed=list(allowed),
                        hint=f"the task asks you to build on {' or '.join(allowed)}", **ev)
    missing = [s.base for s in df.stages if not df.stage(s.base) and not _is_available(s.base)]
    if missing:
        return fail(f"FROM {missing[0]} is not available here; expected one of the sandbox's base images "
                    f"({', '.join(available_bases())})", reason="unavailable", unavailable=missing,
                    hint=_offline_hint(), **ev)
    return ok(f"the final stage builds FROM {final.base}"
              + (f" (stage {parent.name}, based on {external})" if external != final.base else ""), **ev)


def _allowed(base: str, entry: str) -> bool:
    b, a = ImageRef.parse(base), ImageRef.parse(entry)
    return b.name == a.name and (a.tag is None or b.tag_or_latest == a.tag)


def _suggest(repo: str) -> str:
    for name in available_bases():
        if ImageRef.parse(name).name == repo:
            return ImageRef.parse(name).canonical()
    return repo + ":<version>"


# --- instructions --------------------------------------------------------------------------------

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


def _user_part(user: str) -> str:
    return user.split(":")[0].strip()


@check("dockerfile.final_user", path=PATH, not_root=Param(bool, default=True),
       equals=Param((str, int), default=None, doc="the exact user the final stage must switch to"))
def final_user(ctx, path="Dockerfile", not_root=True, equals=None):
    """The final stage switches to a non-root USER"""
    equals = None if equals is None else str(equals)
    df = load(ctx, path)
    users = df.inherited("USER")
    if not users:
        if not not_root and equals is None:
            return ok("no USER: the image keeps the base image's user", user=None)
        return fail(f"the final stage has no USER, so the container runs as root; expected "
                    f"{'USER ' + equals if equals else 'a non-root USER'}", reason="no_user", user=None,
                    hint="create a user and switch to it near the end: `RUN useradd --create-home app` "
                         "(or `adduser -D app` on busybox/alpine), then `USER app`")
    last = users[-1]
    user = last.value.strip()
    ev = {"user": user, "line": last.line}
    if equals is not None and user != equals and _user_part(user) != equals:
        return fail(f"the last USER is `{user}` ({last.quote()}); expected USER {equals}", reason="wrong_user",
                    hint=f"end the final stage with `USER {equals}`", **ev)
    if not_root and _user_part(user) in ("root", "0"):
        return fail(f"the last USER is `{user}` ({last.quote()}), which is root; expected a non-root user",
                    reason="root", hint="switch back to an unprivileged user after the steps that need root, "
                                        "e.g. `USER app` (created with useradd)", **ev)
    return ok(f"the final stage runs as USER {user} (line {last.line})", **ev)


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


def _exposed(df: Dockerfile) -> list[tuple[int, int, str, str]]:
    """(low, high, proto, as written) for every EXPOSE of the final stage and the stages it builds on."""
    out = []
    for stage in df.lineage():
        env = _stage_vars(stage)
        for i in stage.get("EXPOSE"):
            for word in _substitute(i.value, env).split():
                m = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", word.lower())
                if m:
                    out.append((int(m.group(1)), int(m.group(2) or m.group(1)), m.group(3) or "tcp", word))
    return out


@check("dockerfile.exposes", path=PATH, port=Param(int, doc="the TCP port that must be EXPOSEd"))
def exposes(ctx, path="Dockerfile", port=0):
    """The Dockerfile EXPOSEs the port the app listens on"""
    df = load(ctx, path)
    ports = _exposed(df)
    written = [p[3] for p in ports]
    if not ports:
        return fail(f"there is no EXPOSE; expected `EXPOSE {port}`", reason="no_expose", exposed=[],
                    hint=f"add `EXPOSE {port}`: it documents the port and lets `docker run -P` publish it")
    if any(lo <= port <= hi and proto == "tcp" for lo, hi, proto, _ in ports):
        return ok(f"EXPOSE includes {port} (exposed: {', '.join(written)})", exposed=written)
    return fail(f"EXPOSE lists {', '.join(written)}; expected {port}", reason="wrong_port", exposed=written,
                hint=f"EXPOSE the port your app actually listens on ({port}); the app, EXPOSE and "
                     f"`-p host:{port}` must agree")


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


def _labels(df: Dockerfile) -> dict:
    out = {}
    for i in df.inherited("LABEL"):
        out.update(_kv(i.value))
    return out


@check("dockerfile.labels", path=PATH, required=Param(list, doc="LABEL keys that must be set in the final stage"))
def labels(ctx, path="Dockerfile", required=()):
    """The final stage sets the required LABELs"""
    df = load(ctx, path)
    have = _labels(df)
    missing = [k for k in required if k not in have]
    if missing:
        return fail(f"missing LABEL {', '.join(missing)}; found {', '.join(sorted(have)) or 'no labels'}",
                    reason="missing_labels", missing=missing, labels=have,
                    hint="add them in the final stage, e.g. `LABEL " + " ".join(f'{k}="..."' for k in missing) + "`")
    return ok(f"LABEL {', '.join(required)} set", labels=have)


def _bounds(what: str, n: int, lo, hi, reason_hi: str, reason_lo: str, hint_hi: str, hint_lo: str, **ev):
    if hi is not None and n > hi:
        return fail(f"{n} {what}; the task allows at most {hi}", reason=reason_hi, hint=hint_hi, count=n, **ev)
    if lo is not None and n < lo:
        return fail(f"{n} {what}; the task asks for at least {lo}", reason=reason_lo, hint=hint_lo, count=n, **ev)
    limits = " and ".join(x for x in (f"at least {lo}" if lo is not None else "",
                                      f"at most {hi}" if hi is not None else "") if x)
    return ok(f"{n} {what}" + (f" ({limits} allowed)" if limits else ""), count=n, **ev)


@check("dockerfile.instruction_count", path=PATH,
       instruction=Param(str, default=None, doc="count only this instruction (all instructions when omitted)"),
       max=Param(int, default=None), min=Param(int, default=None))
def instruction_count(ctx, path="Dockerfile", instruction=None, max=None, min=None):
    """The Dockerfile has a bounded number of instructions"""
    df = load(ctx, path)
    found = df.get(instruction.upper()) if instruction else df.instrs
    what = f"{instruction.upper()} instruction(s)" if instruction else "instructions"
    return _bounds(what, len(found), min, max, "too_many", "too_few",
                   "combine steps, e.g. several RUN commands into one with &&",
                   f"the task expects more {instruction.upper() if instruction else 'instructions'}",
                   lines=[i.quote() for i in found][:50])


@check("dockerfile.layer_count", path=PATH, max=Param(int, doc="most RUN/COPY/ADD in the final stage"))
def layer_count(ctx, path="Dockerfile", max=0):
    """The final stage adds few layers (RUN, COPY, ADD)"""
    df = load(ctx, path)
    found = df.final.get("RUN", "COPY", "ADD")
    return _bounds("layer-creating instructions (RUN/COPY/ADD) in the final stage", len(found), None, max,
                   "too_many_layers", "too_few",
                   "chain related commands into one RUN with && (install and clean up in the same RUN), "
                   "COPY whole directories at once, or build in an earlier stage and COPY --from only the result",
                   "", lines=[i.quote() for i in found])


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
