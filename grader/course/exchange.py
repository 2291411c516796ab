"""nbgrader's collect, for an exchange whose inbound folder learners write: no link followed, no name borrowed.

nbgrader's own collect runs as the instructor (root here) and copies each ``inbound/<student>+<lab>+<time>/``
with ``shutil.copytree``, which follows symbolic links: a learner who plants ``secret -> /etc/shadow`` in their
hand-in would have root copy the file into the course, where their graded notebook reads it back into its
feedback. And it only *warns* when the folder's owner is not the student it claims to come from, so one learner
could hand in as another.

:class:`SafeCollect` (``c.ExchangeFactory.collect``) skips a hand-in whose folder is not owned by the uid of the
student it names (the hub's roster says which uid is whose; else the system's accounts), and copies the others
with :func:`grader.course.kernel_user.copy_untrusted` first (regular files and folders only, never a link), then
with nbgrader's own filters (ignore, include, max_file_size).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from traitlets import Unicode

from .kernel_user import copy_untrusted, remove_tree


def owners(roster: str | None) -> dict[int, str]:
    """uid → student id: the hub's roster when there is one, else the machine's accounts."""
    if roster:
        users = json.loads(Path(roster).read_text()).get("users", {})
        return {int(u["uid"]): name for name, u in users.items()}
    import pwd

    return {p.pw_uid: p.pw_name for p in pwd.getpwall()}


def refusal(rec: dict, inbound: str, names: dict[int, str]) -> str | None:
    """Why a hand-in's folder is not the student's it names (None when it is: a real folder, theirs)."""
    path = os.path.join(inbound, rec["filename"])
    try:
        st = os.lstat(path)
    except OSError:
        return f"{rec['filename']}: gone"
    if not os.path.isdir(path) or os.path.islink(path):
        return f"{rec['filename']}: not a folder"
    owner = names.get(st.st_uid, f"uid {st.st_uid}")
    if owner != rec["username"]:
        return f"{rec['filename']}: claims to be {rec['username']}'s but is owned by {owner}"
    return None


class SafeCollect(ExchangeCollect):
    roster = Unicode("", config=True, help="The hub's roster.json: whose uid is whose (default: /etc/passwd).")

    _owners: dict[int, str] | None = None

    def _path_to_record(self, path):
        rec = super()._path_to_record(path)
        if self.check_owner:
            if self._owners is None:
                self._owners = owners(self.roster or None)
            rec["refused"] = refusal(rec, os.path.dirname(path), self._owners)
            if rec["refused"]:
                self.log.error("not collected: %s", rec["refused"])
        return rec

    def _sort_by_timestamp(self, records):
        # nbgrader takes the first of each student's: their latest genuine one, never a forged later one
        return sorted(records, key=lambda r: (not r.get("refused"), r["timestamp"]), reverse=True)

    def init_src(self):
        super().init_src()
        self.src_records = [r for r in self.src_records if not r.get("refused")]

    def copy_files(self):
        checked, self.check_owner = self.check_owner, False  # checked above, by uid (nbgrader's warns, by name)
        try:
            super().copy_files()
        finally:
            self.check_owner = checked

    def do_copy(self, src, dest, log=None):
        with tempfile.TemporaryDirectory(prefix="dockyard-collect-") as tmp:
            plain = Path(tmp) / "handin"
            left_out = copy_untrusted(Path(src), plain, max_file=self.coursedir.max_file_size * 1000,
                                      max_bytes=self.coursedir.max_dir_size * 1000)
            for name in left_out:
                self.log.warning("not collected from %s: %s (a link, a special file or too large)", src, name)
            super().do_copy(str(plain), dest, log)
            remove_tree(plain)
