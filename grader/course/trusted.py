"""nbgrader's Execute step for a Dockyard course: no kernel's answer counts for a test cell.

The student's notebook runs in its kernel as usual, cell by cell, except the
autograded test cells. Which cells those are, and what each awards, comes from the
course's SOURCE notebook (the teacher's, keyed by grade_id), never from the
student's copy of a cell. When nbgrader's order reaches such a cell, the kernel
does not run it: this process runs the checks itself, with the lab specs loaded
from the course's labs before the first cell ran, against the hand-in's sandbox
(DOCKER_HOST / DOCKYARD_SANDBOX of this process) and files (the folder the kernel
writes in, copied on top of the lab's starter base), and writes the cell's outputs the way
``award()`` prints and returns them: one stdout stream with a line per check and
an ``execute_result`` holding the points (nbgrader's partial credit), or an error
named GraderError when the checks could not run (the cell scores 0 and
``dockyard grade`` reports grader-error).

A code cell that claims to be an autograded grade cell but is none of the teacher's
(a student can flip nbgrader's ``solution`` flag, which OverwriteCells keeps) is not
run either: it gets a GraderError and scores 0.

Every result and the inspect data the checks looked at are written, by this
process, to ``evidence_file`` (JSON lines) when the notebook is done.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import DeduplicateIds, Execute
from traitlets import Unicode

from dockyard.errors import DockyardError

from . import labnb

GRADER_ERROR = "GraderError"


def plan(source_nb) -> dict[str, tuple[labnb.Award, ...]]:
    """grade_id → the award() calls of each autograded test cell of the teacher's notebook.

    A test cell with no award() call (a teacher's own assert, say) maps to (): the kernel runs it."""
    return {c.grade_id: c.awards for c in labnb.test_cells(source_nb) if c.grade_id}


def claims_autograde(cell) -> bool:
    """Would nbgrader score this cell from its outputs?"""
    return labnb.is_test_cell(cell)


def outputs(lines: list[str], points: float | None, error: str | None) -> list[NotebookNode]:
    """A test cell's outputs as ``award()`` in a kernel would leave them: the check lines, then the
    points (execute_result) or the reason the checks could not run (error)."""
    out = []
    if lines:
        out.append(NotebookNode(output_type="stream", name="stdout", text="".join(f"{ln}\n" for ln in lines)))
    if error is not None:
        out.append(NotebookNode(output_type="error", ename=GRADER_ERROR, evalue=error,
                                traceback=[f"{GRADER_ERROR}: {error}"]))
    else:
        out.append(NotebookNode(output_type="execute_result", execution_count=None, metadata={},
                                data={"text/plain": repr(float(points))}))
    return out


class KeepLastOfDuplicateIds(DeduplicateIds):
    """nbgrader's DeduplicateIds (the last cell with a grade_id keeps it), but the others lose their
    nbgrader metadata altogether: nbgrader 0.9 leaves an empty one, which its own CheckCellMetadata then
    rejects as an outdated schema, so one duplicated cell would cost the whole hand-in its grades."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if "nbgrader" in cell.metadata and not cell.metadata.nbgrader:
            del cell.metadata["nbgrader"]
        return cell, resources


class UnsealedAutograde(RuntimeError):
    """Autograde asked for outside ``dockyard grade``."""


class TrustedExecute(Execute):
    """Execute, with every Dockyard test cell's checks run and scored in the grader's own process."""

    evidence_file = Unicode("", help="write every check's result and evidence here (JSON lines)").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        from .worker import KERNEL

        if self.kernel_name != KERNEL:
            # nbgrader's own `autograde` (its CLI, formgrader's button) would start a plain kernel: the
            # student's code would run as whoever clicked, against whatever daemon their shell names
            raise UnsealedAutograde(
                f"Dockyard refuses to autograde with kernel {self.kernel_name or 'python3'!r}: the hand-in's "
                "code would run unsealed, as you. Grade it with `dockyard grade LAB --student STUDENT --force`, "
                "which runs it in a fresh sealed sandbox; formgrader then shows the grades.")
        resources = resources if resources is not None else {}
        # Everything the scores depend on is read now, before any of the student's code runs.
        self._plan = plan(self._source_notebook(resources))
        labs = {a.lab for awards in self._plan.values() for a in awards}
        self._labs = {name: self._load_lab(name) for name in sorted(labs)}
        # the notebook's folder: the kernel's cwd and own folder (grader.course.kernel_user)
        self._folder = Path((resources.get("metadata") or {}).get("path") or os.getcwd()).resolve()
        self._sessions: dict = {}
        self._sandbox = None
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._finish()

    def preprocess_cell(self, cell, resources, index):
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in self._plan and self._plan[gid]:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = self.grade_cell(self._plan[gid]), None
            return cell, resources
        if claims_autograde(cell) and gid not in self._plan:
            cell.outputs, cell.execution_count = outputs([], None, f"cell {gid or index!r} is not a test cell "
                                                                  "of this lab: it earns nothing"), None
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

    # --- the checks -------------------------------------------------------------------------
    def grade_cell(self, awards) -> list[NotebookNode]:
        from ..autograde import GraderError, points, select

        lines: list[str] = []
        total = 0.0
        try:
            for a in awards:
                session = self._session(a.lab)
                select(session.lab, a.ids)  # unknown ids: a GraderError before anything runs
                results = session.run(a.ids)  # the context is made again if the hand-in's files changed
                # a hidden check shows only as hidden in the notebook and its feedback; the evidence file
                # (the teacher's) keeps what it looked at
                lines += [str(r.shown(reveal_hidden=False)) for r in results]
                total += points(results)  # GraderError when a check could not run
        except GraderError as exc:
            return outputs(lines, None, str(exc))
        except DockyardError as exc:  # the hand-in could not be copied (too large, say): its reason and fix
            return outputs(lines, None, f"{exc.problem} ({exc.fix})")
        except Exception as exc:  # the grader's own failure is never the student's zero in silence
            return outputs(lines, None, f"the checks could not run ({exc.__class__.__name__}: {exc})")
        return outputs(lines, round(total, 3), None)

    def _session(self, lab_id: str):
        from ..autograde import GraderError
        from ..session import GradingSession

        if lab_id in self._sessions:
            return self._sessions[lab_id]
        lab = self._labs.get(lab_id)
        if isinstance(lab, Exception):
            raise lab
        if self._sandbox is None:
            from dockyard.notebook import sandbox

            try:
                sb = sandbox()
                sb.client  # noqa: B018  (connect now, so a missing daemon is this cell's GraderError)
            except DockyardError as exc:
                raise GraderError(f"no sandbox to grade against: {exc.problem} ({exc.fix})") from None
            self._sandbox = sb
        # in place when the lab has no starter base: a bind mount's source is compared with this folder's path
        session = GradingSession(lab, sandbox=self._sandbox, submission=self._folder, track_files=True)
        self._sessions[lab_id] = session
        return session

    # --- what is read before, and written after ---------------------------------------------
    def _source_notebook(self, resources):
        """The teacher's notebook of this assignment, from the course's source folder."""
        import nbformat
        from nbgrader.coursedir import CourseDirectory

        nbg = resources.get("nbgrader") or {}
        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.source_directory, ".", nbg.get("assignment", "")))
        path = folder / f"{nbg.get('notebook', '')}.ipynb"
        if not nbg.get("assignment") or not path.is_file():
            raise FileNotFoundError(f"no source notebook {path}: the test cells cannot be known, nothing is graded")
        return nbformat.read(path, as_version=4)

    @staticmethod
    def _load_lab(name: str):
        from ..autograde import GraderError, load_lab

        try:
            return load_lab(name)
        except GraderError as exc:
            return exc  # this lab's cells get the error; the rest of the notebook still runs

    def _finish(self) -> None:
        records: list[dict] = []
        for session in self._sessions.values():
            with contextlib.suppress(Exception):
                session.close()
            ev = session.evidence()
            records += ev["checks"]
            records += [{"inspected": k, "data": v} for k, v in ev["inspected"].items()]
        self._sessions = {}
        if self._sandbox is not None and getattr(self._sandbox, "_client", None) is not None:
            with contextlib.suppress(Exception):
                self._sandbox._client.close()
        self._sandbox = None
        if self.evidence_file:
            target = Path(self.evidence_file)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in records))
            tmp.replace(target)  # whatever was at that path before is gone
