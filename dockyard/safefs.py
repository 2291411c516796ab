"""Copy and read a learner's files without following links, within caps, race-free.

The grader may run as root while the learner's kernel still runs and can change its
folder under the copy. So nothing here looks a path up twice: every folder is opened
relative to its parent's descriptor with ``O_NOFOLLOW``, every file is opened the same
way and judged by ``fstat`` of the descriptor it was opened as (what ``lstat`` said a
moment earlier may no longer be true), and bytes are counted as they are read, never
taken from ``stat`` (a file may grow while it is copied).

The path given as ``src`` / ``base`` is the caller's: its last component is opened with
``O_NOFOLLOW`` too, the folders above it are trusted (the grader names them).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import posixpath
import shutil
import stat
from pathlib import Path

from .errors import DockyardError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the lstat must not hang the open
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1 << 16
MiB = 1 << 20
CHANGED = (errno.ELOOP, errno.ENOTDIR, errno.ENOENT)  # a link or a file now, or gone


class TreeTooLarge(DockyardError):
    """A tree over one of copy_tree's caps (bytes, files or depth)."""

    def __init__(self, cap: str, reached: int, limit: int, src: Path, where: str):
        where = where if len(where) <= 120 else "…" + where[-119:]
        what = {"bytes": f"more than {_size(limit)} of files ({reached:,} bytes read, the last of {where})",
                "files": f"more than {limit:,} files, folders and links ({reached:,} counted, the last {where})",
                "depth": f"folders nested more than {limit} deep ({reached} at {where})"}[cap]
        shown = _size(limit) if cap == "bytes" else f"{limit:,}"
        super().__init__(f"{src} holds {what}; nothing of it was graded",
                         f"remove build outputs / node_modules / large data from the hand-in; the cap is {shown}",
                         context={"cap": cap, "reached": reached, "limit": limit, "where": where})


class FileTooLarge(DockyardError):
    def __init__(self, rel: str, cap: int):
        super().__init__(f"{rel} is larger than {_size(cap)}, more than the grader reads",
                         "hand in the file without generated or bundled content", context={"file": rel, "cap": cap})


class OutsideTree(DockyardError):
    def __init__(self, rel: str, why: str):
        super().__init__(f"{rel}: {why}", "hand in the file itself, not a link to a file elsewhere",
                         context={"file": rel})


@dataclasses.dataclass(frozen=True)
class CopyReport:
    files: int  # files, folders and links copied
    bytes: int
    skipped: tuple[tuple[str, str], ...]  # (path in the tree, why it was left out)


def _size(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def copy_tree(src: Path, dst: Path, *, max_bytes: int, max_files: int, max_depth: int) -> CopyReport:
    """Copy ``src`` into ``dst`` (made if missing, merged over if not): regular files, folders, and
    relative links that stay inside the copy. FIFOs, devices, sockets and links that lead out are
    left out and listed. Over a cap: :class:`TreeTooLarge`, and a ``dst`` this call made is removed."""
    made = not os.path.lexists(dst)
    job = _Copy(Path(src), max_bytes=max_bytes, max_files=max_files, max_depth=max_depth)
    sfd = _open_part(src, None, str(src), DIR_FLAGS)  # a link given as the tree: OutsideTree
    try:
        os.makedirs(dst, mode=0o700, exist_ok=True)
        with _opened_dir(dst, None) as dfd:
            job.folder(sfd, dfd, "", 0)
            _copy_mode(os.fstat(sfd), dfd)
        job.drop_links_out(Path(dst))
    except BaseException:
        if made:
            shutil.rmtree(dst, ignore_errors=True)
        raise
    finally:
        os.close(sfd)
    return CopyReport(files=job.entries, bytes=job.bytes, skipped=tuple(job.skipped))


class _opened_dir:
    """A folder's descriptor, opened without following a link, closed on leaving."""

    def __init__(self, name, dir_fd: int | None):
        self.fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


class _Copy:
    def __init__(self, src: Path, *, max_bytes: int, max_files: int, max_depth: int):
        self.src, self.max_bytes, self.max_files, self.max_depth = src, max_bytes, max_files, max_depth
        self.entries = self.bytes = 0
        self.skipped: list[tuple[str, str]] = []

    def folder(self, sfd: int, dfd: int, rel: str, depth: int) -> None:
        with os.scandir(sfd) as entries:
            for entry in entries:  # counted as listed: a million names are never all read in
                inner = posixpath.join(rel, entry.name)
                self._count(inner)
                self.entry(sfd, dfd, entry.name, inner, depth)

    def _count(self, rel: str) -> None:
        self.entries += 1
        if self.entries > self.max_files:
            raise TreeTooLarge("files", self.entries, self.max_files, self.src, rel)

    def entry(self, sfd: int, dfd: int, name: str, rel: str, depth: int) -> None:
        try:
            mode = os.stat(name, dir_fd=sfd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return self.skipped.append((rel, "removed while it was copied"))
        except PermissionError:  # a folder that can be listed but not entered
            return self.skipped.append((rel, "not readable"))
        if stat.S_ISLNK(mode):
            return self.link(sfd, dfd, name, rel)
        if stat.S_ISDIR(mode):
            return self.subfolder(sfd, dfd, name, rel, depth + 1)
        if stat.S_ISREG(mode):
            return self.file(sfd, dfd, name, rel)
        self.skipped.append((rel, "not a regular file (a FIFO, device or socket)"))

    def link(self, sfd: int, dfd: int, name: str, rel: str) -> None:
        try:
            target = os.readlink(name, dir_fd=sfd)
        except OSError:  # no longer a link
            return self.skipped.append((rel, "changed while it was copied"))
        if _lexically_inside(rel, target):
            _remove_entry(dfd, name)
            os.symlink(target, name, dir_fd=dfd)
        else:
            self.skipped.append((rel, f"a link out of the folder (to {target})"))

    def subfolder(self, sfd: int, dfd: int, name: str, rel: str, depth: int) -> None:
        if depth > self.max_depth:
            raise TreeTooLarge("depth", depth, self.max_depth, self.src, rel)
        try:
            source = _opened_dir(name, sfd)
        except OSError as exc:
            return self._skip_changed(rel, exc)
        with source as child:
            st = os.fstat(child)
            with _opened_dir(_fresh_dir(dfd, name), dfd) as out:
                self.folder(child, out, rel, depth)
                _copy_mode(st, out)

    def file(self, sfd: int, dfd: int, name: str, rel: str) -> None:
        try:
            fd = os.open(name, FILE_FLAGS, dir_fd=sfd)
        except OSError as exc:
            return self._skip_changed(rel, exc)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped after the lstat
                return self.skipped.append((rel, "not a regular file (a FIFO, device or socket)"))
            out = _fresh_file(dfd, name)
            try:
                self._pour(fd, out, rel)
                _copy_mode(st, out)
            finally:
                os.close(out)
        finally:
            os.close(fd)

    def _pour(self, fd: int, out: int, rel: str) -> None:
        while chunk := os.read(fd, min(CHUNK, self.max_bytes - self.bytes + 1)):
            self.bytes += len(chunk)
            if self.bytes > self.max_bytes:
                raise TreeTooLarge("bytes", self.bytes, self.max_bytes, self.src, rel)
            _write_all(out, chunk)

    def _skip_changed(self, rel: str, exc: OSError) -> None:
        if exc.errno not in CHANGED + (errno.EACCES,):
            raise exc
        self.skipped.append((rel, "changed while it was copied" if exc.errno in CHANGED else "not readable"))

    def drop_links_out(self, dst: Path) -> None:
        """Drop every link of ``dst`` that does not resolve inside it once all is copied: dangling, a
        loop, or out through another link (``r -> .`` then ``e -> r/..``). ``dst`` is the grader's own
        folder, so resolving paths in it is safe."""
        links = _links_in(dst)
        while bad := [p for p in links if not _resolves_inside(p, dst)]:
            for p in bad:
                p.unlink()
                links.remove(p)
                self.skipped.append((str(p.relative_to(dst)), "a link that does not lead to a file of the folder"))


def _links_in(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):  # os.walk lists a link to a folder but never enters it
        found += [Path(folder, n) for n in dirs + files if os.path.islink(os.path.join(folder, n))]
    return found


def _copy_mode(st: os.stat_result, fd: int) -> None:
    """Permission bits and times, as shutil.copytree keeps them (no owner: the copy is the grader's)."""
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _lexically_inside(rel: str, target: str) -> bool:
    if not target or os.path.isabs(target):
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    return joined != ".." and not joined.startswith("../")


def _resolves_inside(path: Path, root: Path) -> bool:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling or a loop
        return False
    real = root.resolve()
    return target == real or real in target.parents


def _fresh_dir(dfd: int, name: str) -> str:
    """``name`` in ``dfd`` as a folder: kept if it is one, made in place of a file or link."""
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dfd)
        st = None
    if st is None:
        os.mkdir(name, 0o700, dir_fd=dfd)
    return name


def _fresh_file(dfd: int, name: str) -> int:
    """A descriptor to write ``name`` in ``dfd``, replacing a link or a folder of that name."""
    try:
        return os.open(name, NEW_FILE_FLAGS, 0o600, dir_fd=dfd)
    except IsADirectoryError:
        shutil.rmtree(name, dir_fd=dfd)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        os.unlink(name, dir_fd=dfd)
    return os.open(name, NEW_FILE_FLAGS, 0o600, dir_fd=dfd)


def _remove_entry(dfd: int, name: str) -> None:
    """Make room for a link: whatever the copy below it left of that name goes."""
    try:
        mode = os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(name, dir_fd=dfd)
    else:
        os.unlink(name, dir_fd=dfd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_beneath(base: Path, rel: str, cap: int) -> bytes:
    """The bytes of ``rel`` inside ``base``, opened one component at a time without following links.

    Raises :class:`OutsideTree` (a link, ``..`` or an absolute path), ``FileNotFoundError``,
    ``IsADirectoryError`` or :class:`FileTooLarge` (more than ``cap`` bytes)."""
    parts = _components(rel)
    fd = _open_part(base, None, rel, DIR_FLAGS)
    try:
        for part in parts[:-1]:
            child = _open_part(part, fd, rel, DIR_FLAGS)
            os.close(fd)
            fd = child
        if not parts:
            raise IsADirectoryError(errno.EISDIR, "the folder itself, not a file", rel)
        return _read_file(fd, parts[-1], rel, cap)
    finally:
        os.close(fd)


def _components(rel: str) -> list[str]:
    if os.path.isabs(rel):
        raise OutsideTree(rel, "an absolute path, not one inside the folder")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OutsideTree(rel, "'..' leads out of the folder")
    return parts


def _open_part(name, dir_fd: int | None, rel: str, flags: int) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP or _is_link(name, dir_fd):
            raise OutsideTree(rel, "a link (the grader reads only files in the folder itself)") from None
        if exc.errno == errno.ENOTDIR:
            raise FileNotFoundError(errno.ENOENT, "a file where a folder is needed", rel) from None
        raise


def _is_link(name, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _read_file(dfd: int, name: str, rel: str, cap: int) -> bytes:
    fd = _open_part(name, dfd, rel, FILE_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "a folder, not a file", rel)
        if not stat.S_ISREG(mode):
            raise FileNotFoundError(errno.ENOENT, "not a regular file (a FIFO, device or socket)", rel)
        data = bytearray()
        while len(data) <= cap and (chunk := os.read(fd, min(CHUNK, cap + 1 - len(data)))):
            data += chunk
        if len(data) > cap:
            raise FileTooLarge(rel, cap)
        return bytes(data)
    finally:
        os.close(fd)
