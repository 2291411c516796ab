"""Mounts: the overlay2 probe, the optional size-capped data-root, and clean-up of leftovers."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from . import procs
from .errors import DockyardError


def mounted_under(prefix: Path) -> list[str]:
    """Mount points at or below ``prefix``, deepest first."""
    prefix_s = str(prefix).rstrip("/")
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix_s or point.startswith(prefix_s + "/"):
                points.append(point)
    return sorted(set(points), key=lambda p: -p.count("/"))


def is_mountpoint(path: Path) -> bool:
    return str(path).rstrip("/") in mounted_under(path)


def unmount_all(prefix: Path) -> list[str]:
    """Unmount everything below ``prefix``; lazily where a plain umount is refused."""
    left = []
    for point in mounted_under(prefix):
        if procs.run(["umount", point], check=False).returncode != 0:
            if procs.run(["umount", "-l", point], check=False).returncode != 0:
                left.append(point)
    return left


def overlay_works(where: Path) -> bool:
    """Try a real overlay mount on the filesystem that will hold the data-root."""
    where.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".overlay-probe-", dir=where))
    try:
        for d in ("lower", "upper", "work", "merged"):
            (tmp / d).mkdir()
        opts = f"lowerdir={tmp/'lower'},upperdir={tmp/'upper'},workdir={tmp/'work'}"
        ok = procs.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(tmp / "merged")], check=False).returncode == 0
        if ok:
            procs.run(["umount", str(tmp / "merged")], check=False)
        return ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def mount_disk(image: Path, size: int, target: Path, *, reserve: int = 0, options: str = "") -> None:
    """Put ``target`` on an ext4 filesystem of ``size`` bytes in a sparse file (a loop mount).

    The file takes host space only as the filesystem fills (lazy inode-table and journal
    init: a 4 GiB disk costs about 2 MB until written). ``reserve`` bytes are kept for root,
    so a process of another user fills the disk while root can still write after it.
    """
    target.mkdir(parents=True, exist_ok=True)
    if is_mountpoint(target):
        return
    if not image.exists():
        image.parent.mkdir(parents=True, exist_ok=True)
        with open(image, "wb") as fh:
            fh.truncate(size)
        percent = f"{min(50.0, 100.0 * reserve / size):.2f}" if reserve else "0"
        res = procs.run([procs.which("mkfs.ext4"), "-q", "-F", "-m", percent,
                         "-E", "lazy_itable_init=1,lazy_journal_init=1", str(image)], check=False)
        if res.returncode != 0:
            image.unlink(missing_ok=True)
            raise DockyardError(f"could not make a filesystem for the sandbox disk: {res.stderr.strip()}",
                                "check free space on the host, or leave out --disk")
    # noinit_itable: the kernel would otherwise zero every inode table in the background,
    # writing 16 MB per GiB of the sparse file for nothing (it is never fsck'ed: it is new)
    res = procs.run(["mount", "-o", ",".join(filter(None, ["loop", "noinit_itable", options])),
                     str(image), str(target)], check=False)
    if res.returncode != 0:
        detach_loops(image)
        raise DockyardError(f"could not loop-mount the sandbox disk {image}: {res.stderr.strip()}",
                            "the host needs loop devices (modprobe loop), or leave out --disk")


def loops_of(image: Path) -> list[str]:
    """The loop devices backed by ``image`` (``losetup -j``)."""
    res = procs.run(["losetup", "-j", str(image)], check=False)
    return [line.split(":", 1)[0] for line in res.stdout.splitlines() if line.strip()]


def detach_loops(image: Path) -> list[str]:
    """Detach every loop device still backed by ``image``; return those that would not go."""
    return [dev for dev in loops_of(image) if procs.run(["losetup", "-d", dev], check=False).returncode != 0]


def remove_disk(image: Path, target: Path | None = None) -> list[str]:
    """Unmount ``target`` (and all below it), detach the loop device, delete the file: what is left."""
    left = unmount_all(target) if target is not None else []
    left += [f"loop device {dev}" for dev in detach_loops(image)]
    image.unlink(missing_ok=True)  # a lazily unmounted disk frees its space when its last user goes
    return left


def disk_usage(path: Path) -> dict:
    st = os.statvfs(path)
    return {"total": st.f_blocks * st.f_frsize, "free": st.f_bavail * st.f_frsize}


def is_full(path: Path, slack: int = 4 * 1024**2) -> bool:
    """Is the filesystem of ``path`` (nearly) full for a process that is not root?"""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < max(slack, st.f_blocks * st.f_frsize // 100)
