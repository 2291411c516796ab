"""Reading a build's output, from either builder: the step that failed (or hung), its output, the steps from cache.

The classic builder prints ``Step 3/6 : RUN make``, the step's output, and ``Using cache`` for a cached step.
BuildKit (``--progress=plain``) numbers every vertex of the build and prefixes each of its lines with ``#N``::

    #6 [3/4] RUN echo bad; exit 3          the step: [stage k/n] and the instruction
    #6 0.045 bad                           its output, with seconds since it started
    #6 ERROR: executor failed running [/bin/sh -c echo bad; exit 3]: exit code: 3
    #4 CACHED                              a step taken from the cache
    ------
     > [3/4] RUN echo bad; exit 3:
    ------
    executor failed running [/bin/sh -c echo bad; exit 3]: exit code: 3     the error, last

Vertices run in parallel, so their lines interleave; a step is found by its number, never by position.
"""

from __future__ import annotations

import re

CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : .*", re.M)
_CLASSIC_TOTAL = re.compile(r"^Step \d+/(\d+) :", re.M)
# "#6 [3/4] RUN ..." or "#9 [build 2/3] COPY ...": a Dockerfile instruction (the [internal] vertices are not steps)
_BK_STEP = re.compile(r"^#(\d+) (\[(?:\S+ )?\d+/\d+\] .*?)\s*$", re.M)
_BK_LINE = re.compile(r"^#(\d+) (.*)$", re.M)
_BK_TIME = re.compile(r"^\d+\.\d+ ")
_BK_END = re.compile(r"^(DONE|CACHED|ERROR|CANCELED)\b")


def is_buildkit(text: str) -> bool:
    return bool(re.search(r"^#\d+ \[", text or "", re.M))


def _vertices(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Step titles by vertex number, and every line by vertex number (without the ``#N `` prefix)."""
    titles = {m.group(1): m.group(2) for m in _BK_STEP.finditer(text)}
    lines: dict[str, list[str]] = {}
    for m in _BK_LINE.finditer(text):
        lines.setdefault(m.group(1), []).append(m.group(2).rstrip())
    return titles, lines


def _ended(lines: list[str], word: str | None = None) -> bool:
    return any(_BK_END.match(ln) and (word is None or ln.startswith(word)) for ln in lines)


def _failed_or_running(text: str) -> str | None:
    """The vertex number of the step that failed, else of the step still running (a build stopped at a timeout)."""
    titles, lines = _vertices(text)
    for n in titles:
        if _ended(lines.get(n, []), "ERROR"):
            return n
    running = [n for n in titles if not _ended(lines.get(n, []))]
    if running:
        return max(running, key=lambda n: text.rfind(f"#{n} "))  # the one that printed last
    return max(titles, key=lambda n: text.rfind(f"#{n} ")) if titles else None


def last_step(text: str) -> str | None:
    """The failing (or, stopped at a timeout, the running) step: ``Step 3/6 : RUN make`` or ``[3/6] RUN make``."""
    text = text or ""
    if is_buildkit(text):
        n = _failed_or_running(text)
        if n is None or not _ended(_vertices(text)[1].get(n, []), "ERROR"):
            failed = _failed_internal(text)  # a base image that cannot be had fails before any step
            if failed:
                return failed
        return _vertices(text)[0].get(n) if n else None
    steps = CLASSIC_STEP.findall(text)
    return steps[-1].strip() if steps else None


def _failed_internal(text: str) -> str | None:
    """The title of a failed vertex that is no Dockerfile step: ``[internal] load metadata for python:3.99``."""
    lines: dict[str, list[str]] = {}
    for m in _BK_LINE.finditer(text):
        lines.setdefault(m.group(1), []).append(m.group(2).rstrip())
    for own in lines.values():
        if own and own[0].startswith("[internal] ") and _ended(own, "ERROR"):
            return own[0]
    return None


def error(text: str) -> str:
    """BuildKit's closing error (after its last ``------``), or the last line of the output."""
    text = (text or "").rstrip()
    if "\n------\n" in text:
        return text.rsplit("\n------\n", 1)[1].strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def since_step(text: str, limit: int = 4000) -> str:
    """The output of the failing (or running) step, then the error: what a learner needs to read."""
    text = text or ""
    if is_buildkit(text):
        n = _failed_or_running(text)
        titles, lines = _vertices(text)
        end = error(text) if "\n------\n" in text else ""
        own = [_BK_TIME.sub("", ln) for ln in lines.get(n, []) if ln != titles.get(n)
               and not ln.startswith("sha256:") and not (end and ln.startswith("ERROR: "))]
        return "\n".join(own + ([end] if end else [])).strip()[-limit:]
    steps = list(CLASSIC_STEP.finditer(text))
    return text[steps[-1].end():][-limit:].strip() if steps else text[-limit:]


def instruction(step: str | None) -> str:
    """``RUN`` of ``Step 3/6 : RUN make`` and of ``[build 3/6] RUN make``."""
    if (step or "").startswith("[internal] load metadata for "):
        return "FROM"  # BuildKit resolves every base image before the first step
    m = re.match(r"(?:Step \d+/\d+ : |\[(?:\S+ )?\d+/\d+\] )(\w+)", step or "")
    return m.group(1).upper() if m else ""


def command(step: str | None) -> str:
    """The instruction's arguments: ``make`` of ``[3/6] RUN make``; the whole step when it is no RUN."""
    body = re.sub(r"^(?:Step \d+/\d+ : |\[(?:\S+ )?\d+/\d+\] )", "", step or "")
    return body[4:] if body.startswith("RUN ") else body


def cached_steps(text: str, chunks: list[str] | None = None) -> int:
    """Steps taken from the build cache: classic ``Using cache`` lines, BuildKit's ``#N CACHED`` steps (not FROM)."""
    text = text or ""
    if is_buildkit(text):
        titles, lines = _vertices(text)
        return sum(1 for n, title in titles.items()
                   if instruction(title) != "FROM" and _ended(lines.get(n, []), "CACHED"))
    return sum("Using cache" in c for c in chunks) if chunks is not None else text.count("Using cache")


def total_steps(text: str) -> int | None:
    """How many steps the build had: classic's ``Step k/N``; BuildKit's distinct steps (every stage's)."""
    text = text or ""
    if is_buildkit(text):
        return len(set(_vertices(text)[0].values())) or None
    totals = _CLASSIC_TOTAL.findall(text)
    return int(totals[-1]) if totals else None
