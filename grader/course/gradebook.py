"""Bring one student's autograde result from a worker's private gradebook into the course's.

Workers grade in parallel, each with a private copy of ``gradebook.db``; only the
main thread writes the course's gradebook, one student at a time, under a lock.
sqlite therefore never sees two writers.
"""

from __future__ import annotations

import sqlite3
import threading
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

LOCK = threading.Lock()  # every read-for-copy and every write of a course gradebook in this process


def url(db: Path) -> str:
    return f"sqlite:///{db}"


def snapshot(db: Path, dest: Path) -> None:
    """A consistent copy of the course gradebook for one worker (sqlite's online backup)."""
    with LOCK:
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(dest)
            with dst:
                src.backup(dst)
            dst.close()
        finally:
            src.close()


def merge(private_db: Path, course_db: Path, lab: str, student: str) -> dict:
    """Copy ``student``'s grades for ``lab`` into the course gradebook; return {cell: (score, max)}."""
    with Gradebook(url(private_db)) as src:
        sub = src.find_submission(lab, student)
        timestamp = sub.timestamp
        cells = {}
        for nb in sub.notebooks:
            for g in nb.grades:
                cells[(nb.name, g.name)] = (g.auto_score, g.max_score)
            comments = {(nb.name, c.name): c.auto_comment for c in nb.comments}
            penalty = {nb.name: nb.late_submission_penalty}
    with LOCK, Gradebook(url(course_db)) as gb, warnings.catch_warnings():
        # nbgrader's own session handling warns on every update of an existing submission
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(student)
        kwargs = {"timestamp": timestamp} if timestamp else {}
        gb.update_or_create_submission(lab, student, **kwargs)
        for (nb_name, cell), (auto, _mx) in cells.items():
            grade = gb.find_grade(cell, nb_name, lab, student)
            grade.auto_score = auto
            # a teacher's manual score stays; it is then flagged for review, as nbgrader does
            grade.needs_manual_grade = grade.manual_score is not None or auto is None
        for (nb_name, cell), text in comments.items():
            try:
                gb.find_comment(cell, nb_name, lab, student).auto_comment = text
            except MissingEntry:
                pass
        for nb_name, value in penalty.items():
            gb.find_submission_notebook(nb_name, lab, student).late_submission_penalty = value
        gb.db.commit()
    return {cell: v for (_nb, cell), v in cells.items()}


def scores(course_db: Path, lab: str) -> dict[str, dict]:
    """{student: {"score", "max_score", "cells": {cell: (score, max)}}} for every graded hand-in of ``lab``."""
    out = {}
    with LOCK, Gradebook(url(course_db)) as gb:
        try:
            subs = gb.assignment_submissions(lab)
        except MissingEntry:
            return {}
        for sub in subs:
            cells = {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
            out[sub.student.id] = {"score": sub.score, "max_score": sub.max_score, "cells": cells}
    return out
