"""The grader's exceptions. Docker errors arrive already translated by :mod:`dockyard.errors`."""

from __future__ import annotations

from dockyard.errors import DockyardError


class GraderError(DockyardError):
    pass


class SpecError(GraderError):
    """A lab.yaml that cannot be used; ``str()`` is ``file:line: problem`` lines."""

    def __init__(self, path, problems: list[tuple[int | None, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}:{line}: {msg}" if line else f"{self.path}: {msg}" for line, msg in problems]
        super().__init__("\n".join(lines), "fix the lab spec; `dockyard check --validate LAB` re-checks it")


class BuildError(GraderError):
    """A docker build that failed, with the failing step and the build log's tail."""

    def __init__(self, problem: str, *, step: str | None = None, output: str = "", log: str = ""):
        self.step, self.output, self.log = step, output, log
        super().__init__(problem)


class BuildTimeout(BuildError):
    pass
