"""dockerfile.dockerignore: the .dockerignore exists and keeps the junk out of the build context."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from .base import Param, check, fail, ok, read_text

MAX_IGNORE = 64 * 1024  # bytes of .dockerignore read; a real one is a few lines


def _ignore_patterns(ctx, context: str) -> list[str] | None:
    rel = f"{context.rstrip('/')}/.dockerignore"
    if not ctx.path(rel).is_file():
        return None
    # the same reading as docker-py's build(): blank lines and comments dropped
    return [ln.strip() for ln in read_text(ctx, rel, MAX_IGNORE).splitlines() if ln.strip() and ln.strip()[0] != "#"]


def _sent(root: Path, rel: str, sent: set[str], matcher) -> list[str]:
    """What of ``rel`` would be sent with the build context (a glob, a directory or a file)."""
    rel = rel.strip().removeprefix("./").rstrip("/")
    if any(c in rel for c in "*?["):
        def hit(p):  # the path or a directory it lies in matches
            parts = p.split("/")
            return any(fnmatch.fnmatch(q, rel) or fnmatch.fnmatch(q, rel.replace("**/", ""))
                       for q in ("/".join(parts[:n]) for n in range(1, len(parts) + 1)))
        return sorted(p for p in sent if hit(p))[:20]
    if (root / rel).exists():
        return sorted(p for p in sent if p == rel or p.startswith(rel + "/"))[:20]
    # not in the submission: judge the patterns as if it were there
    return [] if matcher.matches(rel) else [rel + " (if it existed)"]


@check("dockerfile.dockerignore", context=Param(str, default=".", doc="the build context directory"),
       dockerfile=Param(str, default="Dockerfile"),
       must_exclude=Param(list, doc="paths (dir/ or file, or globs) that must not be sent to the daemon"),
       must_include=Param(list, default=[], doc="paths the build needs, which must still be sent"))
def dockerignore(ctx, context=".", dockerfile="Dockerfile", must_exclude=(), must_include=()):
    """A .dockerignore keeps unneeded files out of the build context"""
    from docker.utils.build import PatternMatcher, exclude_paths

    root = ctx.path(context)
    patterns = _ignore_patterns(ctx, context)
    if patterns is None:
        return fail(f"there is no .dockerignore in {context}; expected one excluding {', '.join(must_exclude)}",
                    reason="missing", hint="create `.dockerignore` next to the Dockerfile with one pattern a line, "
                                           "e.g. `.git`, `__pycache__`, `*.pyc`, `.env`")
    sent = set(exclude_paths(str(root), list(patterns), dockerfile=dockerfile))  # it appends to the list
    matcher = PatternMatcher(patterns)
    ev = {"patterns": patterns, "context_files": len(sent)}
    leaks = {p: _sent(root, p, sent, matcher) for p in must_exclude}
    leaks = {p: v for p, v in leaks.items() if v}
    needed = [p for p in must_include if _excluded(root, p, sent, matcher)]
    if leaks:
        return fail("still sent with the build context: " + "; ".join(f"{p} ({', '.join(v[:3])})"
                                                                      for p, v in leaks.items())
                    + f"; expected .dockerignore ({', '.join(patterns)}) to exclude them", reason="not_excluded",
                    not_excluded=leaks, excluded_needed=needed,
                    hint="patterns are relative to the context root: `__pycache__` matches only the top-level one; "
                         "use `**/__pycache__` for every level, and no leading `./`", **ev)
    if needed:
        return fail(f".dockerignore excludes {', '.join(needed)}, which the build needs; expected them to be sent",
                    reason="excludes_needed", excluded_needed=needed,
                    hint="narrow the pattern that matches them, or re-include with a `!path` line after it", **ev)
    return ok(f".dockerignore excludes {', '.join(must_exclude)}; {len(sent)} paths sent", **ev)


def _excluded(root: Path, rel: str, sent: set[str], matcher) -> bool:
    rel = rel.strip().removeprefix("./").rstrip("/")
    return rel not in sent if (root / rel).exists() else matcher.matches(rel)
