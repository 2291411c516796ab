"""One way to hold a lock file: an exclusive flock, across processes, for the length of a ``with``."""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def file_lock(path: str | Path, *, dir_mode: int = 0o755) -> Iterator[None]:
    """Wait for and hold an exclusive lock on ``path`` (created with its folder if missing); released on exit,
    and by the kernel if the process dies holding it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
