"""The class list of a hub: who may log in, as what, with which uid.

``<hub>/roster.json`` (root's, mode 0600)::

    {"schema_version": 1,
     "users": {"alice": {"role": "student", "uid": 1990100000, "password": "pbkdf2_sha256$600000$<salt>$<hash>"}}}

Each learner keeps one uid for as long as they are on the roster: the files they hand in through nbgrader's
exchange are owned by it, and the instructor's collect checks that owner against the name a hand-in claims. The
uids are raw (no /etc/passwd entry on the host, so nothing is left behind); they come from their own range,
apart from the grading kernels' (:data:`grader.course.kernel_user.UID_RANGE`).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.locks import file_lock
from dockyard.uids import claimed_ids, process_uids, range_from_env, sub_id_ranges

SCHEMA_VERSION = 1
UID_RANGE = (1_990_100_000, 1_990_109_999)  # DOCKYARD_HUB_UIDS=FIRST-LAST overrides it
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
ROLES = ("student", "instructor")
ITERATIONS = 600_000


@dataclasses.dataclass(frozen=True)
class Member:
    name: str
    role: str
    uid: int
    password: str  # pbkdf2_sha256$iterations$salt$hash


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$".join(["pbkdf2_sha256", str(iterations), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, iterations, salt, digest = stored.split("$")
        if kind != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def check_name(name: str, host_names: set[str] | None = None) -> None:
    """A hub name is a student id (nbgrader's) and a login name in the learner's view: refuse what is neither."""
    if not NAME_RE.match(name or ""):
        raise DockyardError(f"user name {name!r} is not valid",
                            "use 1-32 lowercase letters, digits, '_' or '-', starting with a letter")
    if host_names and name in host_names:
        raise DockyardError(f"user name {name!r} is an account of this machine",
                            "pick another name: a learner named like a system account would confuse every `ls -l`")


def uid_range() -> tuple[int, int]:
    return range_from_env("DOCKYARD_HUB_UIDS", UID_RANGE)


def pick_uid(taken: set[int], claimed: set[int], lo_hi: tuple[int, int] | None = None) -> int:
    """The first uid of the range no roster member, account, sub-id range or process holds."""
    lo, hi = lo_hi or uid_range()
    for uid in range(lo, hi + 1):
        if uid not in taken and uid not in claimed:
            return uid
    raise DockyardError(f"no free learner uid in {lo}-{hi}", "set DOCKYARD_HUB_UIDS to a larger range")


class Roster:
    """``roster.json`` read and written under a lock; every change is written at once (atomically)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _locked(self):
        return file_lock(self.path.with_suffix(".lock"), dir_mode=0o700)

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"schema_version": SCHEMA_VERSION, "users": {}}
        except ValueError as exc:
            raise DockyardError(f"{self.path} is not valid JSON: {exc}", "restore it or remove it and add the users again")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise DockyardError(f"{self.path} has schema_version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}",
                                "it was written by another Dockyard version")
        return data

    def _write(self, data: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        tmp.replace(self.path)

    def members(self) -> dict[str, Member]:
        return {n: Member(n, u["role"], int(u["uid"]), u["password"]) for n, u in self._read()["users"].items()}

    def get(self, name: str) -> Member | None:
        return self.members().get(name)

    def by_uid(self) -> dict[int, str]:
        return {m.uid: m.name for m in self.members().values()}

    def add(self, name: str, role: str = "student", password: str | None = None) -> tuple[Member, str]:
        """Add ``name`` (or give them a new password); returns the member and the password in clear, once."""
        import pwd

        if role not in ROLES:
            raise DockyardError(f"role {role!r} is not one of {', '.join(ROLES)}", "use --instructor or leave it out")
        check_name(name, {p.pw_name for p in pwd.getpwall()})
        password = password or secrets.token_urlsafe(12)
        with self._locked():
            data = self._read()
            users = data["users"]
            old = users.get(name)
            if old is not None:
                uid = int(old["uid"])
            else:
                claimed = claimed_ids() | process_uids()
                for lo, hi in sub_id_ranges():
                    claimed |= set(range(max(lo, uid_range()[0]), min(hi, uid_range()[1]) + 1))
                uid = pick_uid({int(u["uid"]) for u in users.values()}, claimed)
            users[name] = {"role": role, "uid": uid, "password": hash_password(password)}
            self._write(data)
        return Member(name, role, uid, users[name]["password"]), password

    def remove(self, name: str) -> bool:
        with self._locked():
            data = self._read()
            gone = data["users"].pop(name, None) is not None
            self._write(data)
        return gone
