"""Building the submission: does `docker build` succeed, and if not, why.

The build runs through ``ctx.build`` (no network, capped, timed out, labeled), so
the image checks later in the same run can use the tag given here.
"""

from __future__ import annotations

import re

from .base import Param, check, fail, ok
from .dockerfile import available_bases
from grader import buildlog
from grader.errors import BuildError, BuildTimeout

EVIDENCE_CAP = 4000
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BASE_UNAVAILABLE = ("pull access denied", "manifest unknown", "not found: manifest", "repository does not exist",
                    "registry-1.docker.io", "proxyconnect", "no such host", "dial tcp", "toomanyrequests")
MISSING_FILE = ("copy failed", "add failed", "file not found in build context", "no such file or directory",
                "excluded by .dockerignore", "failed to compute cache key")


def clean(text: str) -> str:
    """Build output without colour codes and with the daemon's carriage returns turned into lines."""
    return ANSI.sub("", text or "").replace("\r", "\n")


def tail(text: str, lines: int = 12, cap: int = EVIDENCE_CAP) -> str:
    out = "\n".join(ln.rstrip() for ln in clean(text).strip().splitlines()[-lines:] if ln.strip())
    return out[-cap:]


def classify(step: str | None, output: str) -> str:
    """Why a build failed, judged from its failing step (``Step 3/6 : RUN ...`` of the classic builder, ``[3/6] RUN
    ...`` of BuildKit) and that step's output."""
    low = clean(output).lower()
    instr = buildlog.instruction(step)
    # a RUN that exited non-zero: "returned a non-zero code: N" (classic), "exit code: N" (BuildKit)
    code = re.search(r"(?:returned a non-zero code|executor failed running .*?: exit code|did not complete "
                     r"successfully: exit code): (\d+)", low)
    if instr == "FROM" or any(s in low for s in BASE_UNAVAILABLE[:4]):
        return "base_unavailable"
    if instr in ("COPY", "ADD") or ("copy failed" in low or "add failed" in low):
        return "missing_file"
    if code and (code.group(1) == "127" or re.search(r"(command )?not found", low)):
        return "not_installed"
    if code:
        return "run_failed"
    if any(s in low for s in BASE_UNAVAILABLE):
        return "base_unavailable"
    if any(s in low for s in MISSING_FILE):
        return "missing_file"
    return "other"


def _hint(cause: str, step: str | None) -> str:
    command = buildlog.command(step)
    return {
        "base_unavailable": "the base image is unavailable: the sandbox is offline and cannot pull from Docker Hub. "
                            "Use one of the images it holds: " + ", ".join(available_bases()),
        "missing_file": "the file to copy is missing from the build context, or excluded by .dockerignore: check the "
                        "name (case matters), that it sits next to the Dockerfile, and the .dockerignore patterns",
        "not_installed": "the program is not installed in the base image (the shell says `not found`): start from "
                         "an image that has it (python:3.11-slim has python and pip, node:18-slim has node); "
                         "builds here are offline, so apt-get and pip cannot download anything",
        "run_failed": f"the RUN command itself failed: try it in a container of the base image to debug, e.g. "
                      f"`docker run --rm -it <base image> sh`, then type `{command}`",
        "other": "read the last lines of the build output above; `docker build .` in a terminal shows the same",
    }[cause]


@check("build.succeeds", context=Param(str, default=".", doc="the build context, relative to the submission"),
       dockerfile=Param(str, default="Dockerfile", doc="the Dockerfile, relative to the context"),
       tag=Param(str, doc="the name later image checks use for the result"),
       timeout=Param(int, default=120, doc="seconds before the build is stopped"))
def succeeds(ctx, context=".", dockerfile="Dockerfile", tag="", timeout=120):
    """The image builds from the Dockerfile"""
    root = ctx.path(context)
    if not (root / dockerfile).is_file():
        return fail(f"cannot build: {context}/{dockerfile} does not exist; expected a Dockerfile in the build context",
                    reason="missing", hint=f"create `{dockerfile}` in `{context}`, next to the files it copies")
    try:
        result = ctx.build(root, dockerfile, tag, timeout)
    except BuildTimeout as exc:
        where = exc.step or "the start of the build"
        return fail(f"the build did not finish within {timeout} s; it hung at `{where}`; expected it to finish",
                    reason="timeout", step=exc.step, output=tail(exc.output), log=tail(exc.log, 40),
                    hint="a step that never ends: a RUN waiting for input (add -y to apt-get), for the network "
                         "(builds here have none), or starting a server; servers belong in CMD, not RUN")
    except BuildError as exc:
        cause = classify(exc.step, exc.output)
        last = " / ".join(tail(exc.output, 3).splitlines())
        where = f"`{exc.step}`" if exc.step else "the start"
        return fail(f"the build failed at {where}; expected it to succeed. Last output: {last}",
                    reason="build_failed", cause=cause, step=exc.step, output=tail(exc.output),
                    log=tail(exc.log, 40), hint=_hint(cause, exc.step))
    steps = buildlog.total_steps(clean(result.log))
    return ok(f"built {tag} in {result.seconds:.1f} s ({result.cached_steps} of {steps or '?'} "
              f"steps from cache)", tag=tag, image_id=result.image_id, seconds=round(result.seconds, 2),
              cached_steps=result.cached_steps, log=tail(result.log, 20))
