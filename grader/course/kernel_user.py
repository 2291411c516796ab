"""Who a grading kernel runs as, and what it can see: a uid of its own, a private view of the host.

A hand-in's notebook kernel runs the student's code. During class grading it must see
only its own folder and its own sandbox's docker socket; never the course (gradebook,
other hand-ins), the labs (specs and hidden checks), the Dockyard home (every sandbox's
socket and data), /root or another hand-in's temporary folder; and it must not be able to
write anywhere on the host but its own folder.

Uids: one per grading slot (a warm worker grades one hand-in at a time), taken from
:data:`UID_RANGE` with a lock file under ``/run/dockyard/kernel-uids``, so two
``dockyard grade`` runs on one machine never share one. These are raw uids, not users:
no /etc/passwd entry is created, so a crash leaves no user behind; HOME is a folder in the
kernel's private /tmp. The range lies in the block systemd leaves unallocated
(1879048192-2147352575: above the nspawn container ranges, below the "foreign" range and
2^31), and a uid is skipped when /etc/passwd, /etc/group, /etc/subuid or /etc/subgid
claim it or a process runs as it.

The view (:func:`Plan.apply`, done by the kernel launcher :mod:`.fence` as root, after
joining the cgroup and before dropping to the uid): a private mount namespace; every
``mask`` folder covered by an empty read-only tmpfs (the mounts below it detached first,
so this namespace does not pin other sandboxes' disks); every ``private`` folder (/tmp,
/var/tmp, /dev/shm, /run/lock) a fresh size-capped tmpfs; then only ``binds`` put back
at their own paths: the kernel's folder, its sandbox's socket, its sandbox's state file
(read-only) and the code it runs (read-only, when a mask covers it).

The kernel's folder (nbgrader's ``autograded/<student>/<lab>/``) is the same folder at
the same path for the kernel and for dockerd (``docker run -v $PWD/conf:/conf`` works),
given to the uid before the kernel starts. nbgrader, as root, then writes the executed
notebook into it and chmods every file in it: a link planted there would make root write
or chmod through it. So before that, :func:`reclaim` (run by the warm worker right after
nbgrader's Execute step, :mod:`.reclaim`) ends every process of the uid and takes the
folder back: links, fifos, sockets and hard-linked files removed, the rest root's again.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import shutil
import stat
from pathlib import Path

from dockyard.uids import claimed_ids, process_uids, range_from_env, sub_id_ranges, usable  # noqa: F401 (used here and by callers)

UID_RANGE = (1_990_000_000, 1_990_000_999)  # DOCKYARD_KERNEL_UIDS=FIRST-LAST overrides it
LOCKS = Path("/run/dockyard/kernel-uids")
PRIVATE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # world-writable on a Debian host: a fresh tmpfs each
ENV = "DOCKYARD_KERNEL"  # the launcher's plan, as JSON in the kernel's environment


# --- uids ------------------------------------------------------------------------------
def uid_range() -> tuple[int, int]:
    return range_from_env("DOCKYARD_KERNEL_UIDS", UID_RANGE)


class KernelUser:
    """One uid (and the gid of the same number) held for as long as this object is open."""

    def __init__(self, uid: int, lock_fd: int, lock_path: Path):
        self.uid = self.gid = uid
        self._fd, self._path = lock_fd, lock_path

    @classmethod
    def allocate(cls, locks: Path = LOCKS) -> "KernelUser":
        """The first free uid of the range: not claimed by the system, not running, not locked by another run."""
        lo, hi = uid_range()
        claimed = claimed_ids()
        ranges = sub_id_ranges()
        running = process_uids()
        locks.mkdir(parents=True, exist_ok=True, mode=0o700)
        for uid in range(lo, hi + 1):
            if not usable(uid, claimed, ranges, running):
                continue
            path = locks / str(uid)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if os.fstat(fd).st_ino != _ino(path):  # unlinked by its last holder meanwhile: try again
                os.close(fd)
                continue
            return cls(uid, fd, path)
        raise RuntimeError(f"no free kernel uid in {lo}-{hi} (set DOCKYARD_KERNEL_UIDS to another range)")

    def grant_socket(self, socket: Path) -> None:
        """Only this uid (and root) may talk to ``socket``: the hand-in's own sandbox."""
        fd = os.open(socket, os.O_PATH | os.O_NOFOLLOW)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                raise RuntimeError(f"{socket} is not a socket")
            os.chown(f"/proc/self/fd/{fd}", self.uid, self.gid)
            os.chmod(f"/proc/self/fd/{fd}", 0o600)
        finally:
            os.close(fd)

    def end_processes(self) -> None:
        """Kill every process running as this uid (there should be none once its cgroup is empty)."""
        import subprocess

        if self.uid not in process_uids():
            return
        # kill(-1) as the uid reaches exactly its processes, even ones forking meanwhile
        # (/bin/kill: this Python may live where the uid cannot read, e.g. under /root)
        subprocess.run([shutil.which("kill") or "/bin/kill", "-KILL", "-1"], user=self.uid, group=self.gid,
                       extra_groups=[], cwd="/", env={}, timeout=30, check=False, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        if self._fd is None:
            return
        self.end_processes()
        with contextlib.suppress(OSError):
            os.unlink(self._path)
        os.close(self._fd)
        self._fd = None


def _ino(path: Path) -> int | None:
    try:
        return os.stat(path, follow_symlinks=False).st_ino
    except OSError:
        return None


# --- what the kernel may see ---------------------------------------------------------------
def masks(*, course: Path, run_tmp: Path, dockyard_home: Path, labs: list[Path], repo: Path | None = None) -> list[str]:
    """The folders an untrusted kernel must not see (real paths of the ones that exist). The kernel needs no
    lab spec: its checks run in the grader's process (:mod:`grader.course.trusted`, :mod:`grader.service`)."""
    wanted = [course, run_tmp, dockyard_home, Path("/root"), Path("/run/dockyard"), *labs]
    if repo is not None:
        wanted += [repo / "labs", repo / ".git", repo / "tests" / "data" / "labs"]  # lab specs, and their history
    return sorted({os.path.realpath(p) for p in wanted if os.path.isdir(p) and os.path.realpath(p) != "/"})


def outermost(paths) -> list[str]:
    """``paths`` without those inside another of them."""
    out: list[str] = []
    for p in sorted(set(paths)):
        if not any(_under(p, q) for q in out):
            out.append(p)
    return out


def private_dirs() -> list[str]:
    """/tmp and the other world-writable folders, each once (/var/lock is /run/lock)."""
    return outermost(os.path.realpath(p) for p in PRIVATE if os.path.isdir(p))


def code_dirs(repo: Path) -> list[str]:
    """What the kernel runs: this repo and its Python (read-only when a mask covers them, e.g. under /root)."""
    import sys

    return outermost(os.path.realpath(p) for p in (repo, sys.prefix, sys.base_prefix) if os.path.isdir(p))


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


@dataclasses.dataclass
class Plan:
    """What the launcher does before it becomes the kernel; made by the grader, carried in $DOCKYARD_KERNEL."""

    uid: int
    mask: list[str]  # empty read-only tmpfs over each
    private: list[str]  # a fresh writable tmpfs each (/tmp, ...)
    folder: str  # the kernel's folder (the process cwd): nbgrader's autograded/<student>/<lab>/
    binds: list[tuple[str, bool]]  # (path, writable) put back when masked: socket, state file, code
    tmp_size: int = 512 * 1024**2
    # (source, target): a file bound read-only over another, e.g. an /etc/passwd that names a hub learner's uid
    overlays: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    login: str | None = None  # $USER and $LOGNAME; default kernel<uid>

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls, text: str) -> "Plan":
        d = json.loads(text)
        d["binds"] = [(p, bool(w)) for p, w in d["binds"]]
        d["overlays"] = [(src, target) for src, target in d.get("overlays", [])]
        return cls(**d)

    def hidden(self, path: str) -> bool:
        """Is ``path`` inside a masked or private folder (so it must be bound back to be reached)?"""
        return any(_under(path, m) for m in [*self.mask, *self.private])

    def layers(self, cwd: str) -> tuple[list[str], list[tuple[str, bool]], list[str]]:
        """The masks to mount first, then the binds (cwd first: writable), then the masks inside a bind."""
        first = outermost([*self.mask, *self.private])
        binds = [(cwd, True)] + sorted((p, w) for p, w in self.binds if self.hidden(p) and p != cwd)
        later = [m for m in self.mask if m not in first and any(_under(m, b) and m != b for b, _w in binds)]
        return first, binds, outermost(later)

    # --- done by the launcher, as root ---
    def apply(self, argv: list[str], *, kernel: bool = True) -> list[str]:
        """Set up the namespace, drop to the uid; return ``argv`` with a kernel's connection file replaced."""
        cwd = os.getcwd()
        if cwd != os.path.realpath(self.folder):  # reclaim() takes back ``folder``: it must be what is given
            raise RuntimeError(f"the kernel starts in {cwd}, not in its folder {self.folder}")
        conn_at = argv.index("-f") + 1 if kernel and "-f" in argv else None
        conn = Path(argv[conn_at]).read_bytes() if conn_at else None
        give(Path(cwd), self.uid)  # the socket is granted by the grader (KernelUser.grant_socket)
        first, binds, later = self.layers(cwd)
        _unshare_mounts()
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        sources = []  # opened in the new namespace (a bind source must be in it), before anything is masked
        for path, writable in binds:
            if os.path.lexists(path):
                sources.append((path, os.open(path, os.O_PATH | os.O_NOFOLLOW), writable))
        overlays = [(os.open(src, os.O_PATH | os.O_NOFOLLOW), target) for src, target in self.overlays]
        keep = [os.path.realpath(p) for p, _w in binds]
        for top in first:
            _detach_below(top, keep)
            if top in self.private:
                _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, f"size={self.tmp_size},nr_inodes=65536,mode=1777")
            else:
                _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, MASK_OPTS)
        for target, fd, writable in sources:
            _make_mountpoint(target, directory=stat.S_ISDIR(os.fstat(fd).st_mode))
            _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY))
            os.close(fd)
        for fd, target in overlays:
            _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_RDONLY)
            os.close(fd)
        for top in later:
            _detach_below(top, keep)
            _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, MASK_OPTS)
        for top in first:
            if top not in self.private:
                _mount(None, top, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, MASK_OPTS)
        home = Path("/tmp") / "home"  # in the private /tmp: gone with the namespace
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, self.uid, self.uid)
        if conn is not None:
            copy = home / "kernel-connection.json"
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(conn)
            os.chown(copy, self.uid, self.uid)
            argv = [*argv[:conn_at], str(copy), *argv[conn_at + 1:]]
        drop_to(self.uid)
        os.chdir(cwd)  # through the bind: the folder itself, not the masked path under it
        os.environ.pop(ENV, None)
        for var in ("XDG_RUNTIME_DIR", "MAIL"):
            os.environ.pop(var, None)
        login = self.login or f"kernel{self.uid}"
        os.environ.update(HOME=str(home), USER=login, LOGNAME=login,
                          JUPYTER_RUNTIME_DIR=str(home / ".jupyter-runtime"))
        return argv


MASK_OPTS = "size=1m,nr_inodes=4096,mode=755"


def drop_to(uid: int) -> None:
    """Become ``uid`` (gid of the same number, no supplementary groups) for good: no setuid binary helps back."""
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError("the kernel could become root again after dropping privileges")


# --- the system calls python 3.11 has no wrapper for ----------------------------------
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare_mounts() -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")


def _mount(source, target, fstype, flags, data=None) -> None:
    enc = lambda s: None if s is None else str(s).encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} on {target}")


def _detach_below(top: str, keep: list[str]) -> None:
    """Lazily unmount, in this namespace only, every mount strictly inside ``top`` (deepest first), so this
    namespace does not pin other sandboxes' disks; but not the mounts holding a path of ``keep``."""
    below = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].encode().decode("unicode_escape")
            if point != top and _under(point, top) and not any(_under(k, point) for k in keep):
                below.append(point)
    for point in sorted(set(below), key=len, reverse=True):
        if _libc.umount2(point.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
            _check(-1, f"umount {point}")


def _make_mountpoint(target: str, *, directory: bool) -> None:
    """An empty folder or file at ``target`` (parents root-owned 0755) to bind onto; the real one when visible."""
    p = Path(target)
    if p.exists() and p.is_dir() == directory:
        return
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    if directory:
        p.mkdir(mode=0o755, exist_ok=True)
    else:
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))


# --- files the kernel wrote: never trusted to be what they seem ----------------------------
def copy_untrusted(src: Path, dest: Path, *, owner: int | None = None,
                   max_file: int | None = None, max_bytes: int = 4 * 1024**3) -> list[str]:
    """Copy the regular files and folders of ``src`` to ``dest`` (made anew); never follow a link.

    Symlinks, fifos, sockets and devices are left out (returned, by relative path), as is
    every file over ``max_file`` bytes or past ``max_bytes`` in all. Each file is opened with O_NOFOLLOW and checked with fstat, so a
    link swapped in meanwhile is not followed either. ``owner``: the uid (and gid) the
    copies get; default root's. Permission bits are kept, less setuid/setgid/sticky and
    group/other write.
    """
    left_out: list[str] = []
    budget = [max_bytes, max_file]
    if os.path.lexists(dest):
        remove_tree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _copy_dir(os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW), dest, "", owner, left_out, budget)
    return left_out


def _copy_dir(dfd: int, dest: Path, rel: str, owner, left_out, budget) -> None:
    try:
        dest.mkdir(mode=0o700)
        for name in sorted(os.listdir(dfd)):
            relname = f"{rel}{name}"
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
                except OSError:
                    left_out.append(relname)
                    continue
                _copy_dir(sub, dest / name, relname + "/", owner, left_out, budget)
            elif stat.S_ISREG(st.st_mode):
                if not _copy_file(dfd, name, dest / name, owner, budget):
                    left_out.append(relname)
            else:
                left_out.append(relname)
        os.chmod(dest, 0o755)
        if owner is not None:
            os.chown(dest, owner, owner)
    finally:
        os.close(dfd)


def _copy_file(dfd: int, name: str, target: Path, owner, budget) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as src:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > budget[0] or (budget[1] and st.st_size > budget[1]):
            return False
        budget[0] -= st.st_size
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            if owner is not None:
                os.fchown(dst.fileno(), owner, owner)
            os.fchmod(dst.fileno(), stat.S_IMODE(st.st_mode) & 0o755)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    return True


def remove_tree(path: Path) -> None:
    """rmtree that also removes read-only files and never follows a link."""
    if os.path.islink(path) or not os.path.isdir(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return

    def onerror(func, p, _exc):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
            if not os.path.islink(p) and os.path.isdir(p):
                os.chmod(p, 0o700)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            func(p)

    shutil.rmtree(path, onerror=onerror)


def give(folder: Path, uid: int) -> None:
    """The folder and its regular files and folders become ``uid``'s (links are not followed, nor given)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chown(p, uid, uid, follow_symlinks=False)
    os.chown(folder, uid, uid, follow_symlinks=False)


def reclaim(folder: Path, user_uid: int) -> list[str]:
    """After the kernel, before root writes in ``folder``: end the uid's processes, remove what is not a
    plain file or folder (and files with other hard links), give the rest back to root. Returns what went."""
    KernelUser(user_uid, None, None).end_processes()
    removed: list[str] = []
    if not os.path.isdir(folder) or os.path.islink(folder):
        return removed
    for dirpath, dirnames, filenames in os.walk(folder):  # followlinks=False: a linked folder is a name here
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1):
                os.chown(p, 0, 0, follow_symlinks=False)
                os.chmod(p, stat.S_IMODE(st.st_mode) & 0o755)
            else:
                os.unlink(p)
                removed.append(os.path.relpath(p, folder))
        dirnames[:] = [d for d in dirnames if os.path.isdir(os.path.join(dirpath, d))
                       and not os.path.islink(os.path.join(dirpath, d))]
    os.chown(folder, 0, 0, follow_symlinks=False)
    os.chmod(folder, 0o755)
    return removed
