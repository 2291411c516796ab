"""Lab specs: ``labs/<NN-topic>/lab.yaml``, validated before anything runs.

    schema_version: 1
    id: 05-dockerfile
    title: A Dockerfile for a small web app
    settings: {build_timeout: 120, memory: 512m}
    tasks:
      - id: builds
        title: The image builds
        checks:
          - check: build.succeeds          # a registered check name
            id: build                      # optional; default <task>.<check name>
            points: 2
            hidden: false
            hints: {default: "...", build_failed: "..."}   # by failure reason
            with: {tag: app}               # the check's parameters

Every problem is reported as ``lab.yaml:LINE: message``, all at once.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

import yaml

from . import catalog
from .checks import base
from .errors import SpecError

SCHEMA_VERSIONS = (1,)
TOP_KEYS = {"schema_version", "id", "title", "description", "settings", "tasks", "submission"}
TASK_KEYS = {"id", "title", "checks", "description"}
CHECK_KEYS = {"check", "id", "title", "points", "hidden", "hints", "with"}
SETTINGS = {"build_timeout": (int, float), "memory": str, "cpus": (int, float), "pids": int}


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    id: str
    type: str
    title: str
    points: float
    params: dict
    hidden: bool = False
    hints: dict = dataclasses.field(default_factory=dict)
    line: int | None = None


@dataclasses.dataclass(frozen=True)
class Task:
    id: str
    title: str
    checks: tuple[CheckSpec, ...]


@dataclasses.dataclass(frozen=True)
class Lab:
    id: str
    title: str
    path: Path  # the lab directory
    tasks: tuple[Task, ...]
    settings: dict = dataclasses.field(default_factory=dict)
    description: str = ""
    submission_base: Path | None = None  # files a submission may leave out (the starter app)

    @property
    def total(self) -> float:
        return sum(c.points for t in self.tasks for c in t.checks)

    def checks(self):
        for task in self.tasks:
            for c in task.checks:
                yield task, c


class _Loader(yaml.SafeLoader):
    """Keeps the line of every mapping and of each of its keys."""


class _Map(dict):
    line: int = 0
    key_lines: dict


def _construct_map(loader, node):
    loader.flatten_mapping(node)
    m = _Map(loader.construct_mapping(node, deep=True))
    m.line = node.start_mark.line + 1
    m.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return m


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


def _line(m: Any, key: str | None = None) -> int | None:
    if isinstance(m, _Map):
        return m.key_lines.get(key, m.line) if key else m.line
    return None


def load(path: str | Path) -> Lab:
    """Load and validate a lab: a lab directory or its lab.yaml."""
    path = Path(path)
    file = path / "lab.yaml" if path.is_dir() else path
    if not file.exists():
        raise SpecError(file, [(None, "no lab.yaml here: a lab directory holds lab.yaml, starter/ and solution/")])
    try:
        doc = yaml.load(file.read_text(), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(file, [((mark.line + 1) if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    return parse(doc, file)


def _check_top(doc: dict, add) -> None:
    """Known top-level keys, a supported schema_version, an id and a title."""
    for key in doc:
        if key not in TOP_KEYS:
            add((_line(doc, key), f"unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})"))
    version = doc.get("schema_version")
    if version is None:
        add((_line(doc), "missing field 'schema_version' (this grader reads version 1)"))
    elif version not in SCHEMA_VERSIONS:
        add((_line(doc, "schema_version"), f"schema_version {version!r} is not supported (this grader reads 1)"))
    for key in ("id", "title"):
        if not isinstance(doc.get(key), str) or not doc.get(key):
            add((_line(doc, key), f"missing or empty field {key!r} (a string)"))


def _check_settings(settings, add) -> None:
    for key, value in (settings.items() if isinstance(settings, dict) else []):
        if key not in SETTINGS:
            add((_line(settings, key), f"unknown setting {key!r} (allowed: {', '.join(sorted(SETTINGS))})"))
        elif not isinstance(value, SETTINGS[key]):
            add((_line(settings, key), f"setting {key!r} has the wrong type: {value!r}"))


def _parse_task(t, number: int, doc: dict, registry, seen_ids: set[str], add) -> Task | None:
    if not isinstance(t, dict):
        add((_line(doc, "tasks"), f"a task must be a mapping, not {t!r}"))
        return None
    for key in t:
        if key not in TASK_KEYS:
            add((_line(t, key), f"unknown key {key!r} in a task (allowed: {', '.join(sorted(TASK_KEYS))})"))
    tid = t.get("id")
    if not isinstance(tid, str) or not tid:
        add((_line(t), "task without an 'id'"))
        tid = f"task{number}"
    checks = [spec for c in t.get("checks") or [] if (spec := _parse_check(c, tid, registry, seen_ids, add))]
    if not t.get("checks"):
        add((_line(t), f"task {tid!r} has no checks"))
    return Task(tid, str(t.get("title") or tid), tuple(checks))


def _submission_base(doc: dict, file: Path, add) -> Path | None:
    sub = doc.get("submission") or {}
    if not isinstance(sub, dict):
        add((_line(doc, "submission"), "'submission' must be a mapping, e.g. {base: starter}"))
        return None
    if sub.get("base") is None:
        return None
    base_dir = file.parent / str(sub["base"])
    if not base_dir.is_dir():
        add((_line(sub, "base"), f"submission base {sub['base']!r} is not a directory next to lab.yaml"))
    return base_dir


def parse(doc: Any, file: Path) -> Lab:
    """A lab from its YAML document; every problem found at once, with its line, in one SpecError."""
    problems: list[tuple[int | None, str]] = []
    add = problems.append
    if not isinstance(doc, dict):
        raise SpecError(file, [(None, "the top level must be a mapping with schema_version, id, title and tasks")])
    _check_top(doc, add)
    settings = doc.get("settings") or {}
    _check_settings(settings, add)
    tasks_doc = doc.get("tasks")
    if not isinstance(tasks_doc, list) or not tasks_doc:
        add((_line(doc, "tasks"), "missing field 'tasks' (a list of tasks, each with id, title and checks)"))
        tasks_doc = []
    registry, seen_ids, tasks = base.load_all(), set(), []
    for t in tasks_doc:
        task = _parse_task(t, len(tasks) + 1, doc, registry, seen_ids, add)
        if task:
            tasks.append(task)
    base_dir = _submission_base(doc, file, add)
    if problems:
        raise SpecError(file, problems)
    return Lab(id=doc["id"], title=doc["title"], path=file.parent, tasks=tuple(tasks),
               settings=dict(settings), description=str(doc.get("description") or ""), submission_base=base_dir)


def _parse_check(c, tid, registry, seen_ids, add) -> CheckSpec | None:
    if not isinstance(c, dict):
        add((None, f"in task {tid!r}: a check must be a mapping, not {c!r}"))
        return None
    ok = True
    for key in c:
        if key not in CHECK_KEYS:
            add((_line(c, key), f"unknown key {key!r} in a check (allowed: {', '.join(sorted(CHECK_KEYS))}; "
                                "the check's own parameters go under 'with')"))
            ok = False
    name = c.get("check")
    if not name:
        add((_line(c), "check without a 'check' name"))
        return None
    ctype = registry.get(name)
    if ctype is None:
        close = difflib.get_close_matches(str(name), list(registry), n=3, cutoff=0.6)
        add((_line(c, "check"), f"unknown check {name!r}" + (f" (did you mean {' or '.join(close)}?)" if close else
                                                              " (dockyard checks lists them all)")))
        return None
    params = c.get("with") or {}
    if not isinstance(params, dict):
        add((_line(c, "with"), f"'with' of {name} must be a mapping of parameters"))
        return None
    for problem in ctype.validate(params):
        add((_line(params, None) or _line(c, "with") or _line(c), problem))
        ok = False
    points = c.get("points", 1)
    if not isinstance(points, (int, float)) or isinstance(points, bool) or points < 0:
        add((_line(c, "points"), f"points must be a number ≥ 0, not {points!r}"))
        ok = False
    hints = c.get("hints") or {}
    if not isinstance(hints, dict):
        add((_line(c, "hints"), "hints must map a failure reason (or 'default') to a text"))
        ok = False
    cid = c.get("id") or f"{tid}.{name}"
    if cid in seen_ids:
        add((_line(c, "id") or _line(c), f"check id {cid!r} is used twice; give one of them an 'id'"))
        ok = False
    seen_ids.add(cid)
    if not ok:
        return None
    return CheckSpec(id=cid, type=name, title=str(c.get("title") or ctype.title), points=float(points),
                     params=dict(params), hidden=bool(c.get("hidden", False)), hints=dict(hints), line=_line(c))


def find_lab(name: str | Path, labs_dir: Path | None = None, prefer: str = "lesson") -> Path:
    """A lab by path, by directory name (``05-dockerfile``) or by its number or topic (``05``, ``dockerfile``);
    ``prefer`` says whether a bare name shared by a lesson's self-checks means the lesson or the lab
    (:func:`grader.catalog.find`)."""
    try:
        return catalog.find(name, labs_dir, prefer)
    except catalog.NoSuchLab as exc:
        raise SpecError(exc.root / exc.name, [(None, f"no lab called {exc.name!r} (labs here: {exc.available})")]) from None
