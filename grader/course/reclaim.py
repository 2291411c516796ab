"""nbgrader's step right after Execute: the kernel's folder is root's again before root writes in it.

nbgrader (this warm worker, as root) next writes the executed notebook into the
autograded folder and chmods every file there. The kernel ran as its own uid with that
folder as its own (:mod:`.kernel_user`); anything it planted (a link to /etc/shadow, a
hard link, a fifo) is removed here, every process of its uid is ended first, and what is
left becomes root's.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

from .kernel_user import ENV, Plan, reclaim


class ReclaimFolder(NbGraderPreprocessor):  # enabled by default, unlike nbconvert's Preprocessor
    def preprocess(self, nb, resources):
        text = os.environ.get(ENV)
        if text:
            plan = Plan.from_env(text)
            removed = reclaim(Path(plan.folder), plan.uid)
            if removed:
                self.log.warning("removed what the kernel left in its folder: %s", ", ".join(removed))
        return nb, resources
