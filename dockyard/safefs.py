"""(temporary, replaced by the safefs branch at merge)"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from dockyard.errors import DockyardError


class OutsideTree(DockyardError):
    pass


class FileTooLarge(DockyardError):
    pass


def read_beneath(base: Path, rel: str, cap: int) -> bytes:
    parts = [p for p in Path(rel).parts if p not in ("", ".")]
    if Path(rel).is_absolute() or ".." in parts:
        raise OutsideTree(f"{rel} is not a path inside the tree", "hand in the file itself, not a link to a file elsewhere")
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            try:
                nfd = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (40, 20) :  # ELOOP, ENOTDIR: a link
                    if os.path.islink(os.path.join(base, *parts[: i + 1])):
                        raise OutsideTree(f"{rel}: {part} is a link", "hand in the file itself") from None
                raise
            os.close(fd)
            fd = nfd
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(rel)
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(f"{rel} is not a regular file")
        data = b""
        while len(data) <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - len(data)))
            if not chunk:
                break
            data += chunk
        if len(data) > cap:
            raise FileTooLarge(f"{rel} is more than {cap} bytes", "hand in a smaller file")
        return data
    finally:
        os.close(fd)
