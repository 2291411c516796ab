"""How a check is declared.

A check is a function ``f(ctx, **params) -> Outcome`` registered under a dotted
name with the parameters it takes. The lab spec refers to it by that name; the
spec loader validates parameters against the declaration before anything runs.

    @check("image.user", image=Param(str), not_root=Param(bool, default=True))
    def image_user(ctx, image, not_root=True):
        ...
        return fail(f"runs as root; expected a non-root user", reason="root",
                    hint="add `USER app` after creating the user", user=user)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from grader.errors import GraderError

_MISSING = object()


@dataclasses.dataclass(frozen=True)
class Param:
    type: type | tuple[type, ...]
    default: Any = _MISSING
    doc: str = ""
    choices: tuple | None = None  # the only values allowed, checked when the spec is loaded

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclasses.dataclass(frozen=True)
class Outcome:
    passed: bool
    message: str
    hint: str | None = None
    reason: str | None = None
    evidence: dict = dataclasses.field(default_factory=dict)


class Failed(Exception):
    """Raise ``Failed(fail(...))`` from anywhere in a check (or a helper it calls) to end it with that outcome."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome
        super().__init__(outcome.message)


def ok(message: str, **evidence) -> Outcome:
    return Outcome(True, message, evidence=evidence)


def fail(message: str, *, hint: str | None = None, reason: str | None = None, **evidence) -> Outcome:
    """A failure. ``message`` quotes expected and actual; ``hint`` is specific to ``reason``."""
    return Outcome(False, message, hint=hint, reason=reason or "failed", evidence=evidence)


def read_text(ctx, path: str, cap: int) -> str:
    """A file of the hand-in as text, at most ``cap`` bytes (``ctx.text``); a larger one ends the check as the
    hand-in's failure, ``too_large``, never a read of it all."""
    from dockyard.safefs import FileTooLarge

    try:
        return ctx.text(path, cap)
    except FileTooLarge:
        raise Failed(fail(f"{path} is more than {cap // 1024} KiB; a file that large is not read", reason="too_large",
                          path=path, hint=f"hand in {path} itself: the grader reads at most {cap // 1024} KiB of it"))


@dataclasses.dataclass(frozen=True)
class CheckType:
    name: str
    func: Callable[..., Outcome]
    params: dict[str, Param]
    title: str  # default title, from the first line of the docstring

    def validate(self, given: dict) -> list[str]:
        """Problems with ``given`` parameters (empty when they are fine)."""
        problems = []
        for key, value in given.items():
            if key not in self.params:
                problems.append(f"unknown parameter {key!r} for check {self.name} "
                                f"(it takes: {', '.join(sorted(self.params)) or 'nothing'})")
                continue
            want = self.params[key].type
            types = want if isinstance(want, tuple) else (want,)
            if float in types and int not in types:
                types = types + (int,)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join(t.__name__ for t in types)
                problems.append(f"parameter {key!r} of {self.name} must be {names}, not {type(value).__name__} ({value!r})")
            elif self.params[key].choices and value not in self.params[key].choices:
                problems.append(f"parameter {key!r} of {self.name} must be one of "
                                f"{', '.join(map(str, self.params[key].choices))}, not {value!r}")
        for key, p in self.params.items():
            if p.required and key not in given:
                problems.append(f"check {self.name} needs parameter {key!r}")
        return problems


REGISTRY: dict[str, CheckType] = {}


def check(name: str, /, **params: Param):
    def register(func):
        if name in REGISTRY:
            raise GraderError(f"check {name} is registered twice")
        title = (func.__doc__ or name).strip().splitlines()[0].rstrip(".")
        REGISTRY[name] = CheckType(name, func, dict(params), title)
        return func
    return register


def load_all() -> dict[str, CheckType]:
    """Import every family module (registering its checks); returns the registry."""
    import importlib

    from grader.checks import FAMILIES

    for family in FAMILIES:
        importlib.import_module(f"grader.checks.{family}")
    return REGISTRY


def get(name: str) -> CheckType:
    return load_all()[name]


def names() -> list[str]:
    return sorted(load_all())
