"""Logging in to a Dockyard hub offline: each name on the roster with its own password.

Not a shared class password: with one, any learner could log in under another's name and reach their server,
sandbox and files. ``dockyard hub adduser NAME`` prints a generated password once; the roster keeps a salted
PBKDF2 hash. For a production class, use the institution's login instead (the README says which).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from .roster import Roster, verify_password


class RosterAuthenticator(Authenticator):
    roster_file = Unicode(config=True, help="The hub's roster.json.")

    def check_allowed(self, username, authentication=None):
        return Roster(Path(self.roster_file)).get(username) is not None

    async def authenticate(self, handler, data):
        name, password = (data or {}).get("username", ""), (data or {}).get("password", "")
        member = Roster(Path(self.roster_file)).get(name)
        if member is None:
            return None
        ok = await asyncio.to_thread(verify_password, password, member.password)  # PBKDF2: not on the event loop
        if not ok:
            return None
        return {"name": name}  # instructors are the group "instructors", loaded from the roster at hub start
