"""Static checks of a Dockerfile: parsed, never built, so they need no daemon.

Every check takes ``path`` (the Dockerfile, relative to the submission) and
fails with reason ``missing`` / ``unknown_instruction`` when the file cannot be
read, so a spec needs no separate "the file exists" check before the others.
"""

from __future__ import annotations

import dataclasses
import io
import re
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
