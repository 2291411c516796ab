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


def mount_disk(image: Path, size: int, target: Path) -> None:
    """Put ``target`` on an ext4 filesystem of ``size`` bytes in a sparse file (a loop mount)."""
    target.mkdir(parents=True, exist_ok=True)
    if is_mountpoint(target):
        return
    if not image.exists():
        with open(image, "wb") as fh:
            fh.truncate(size)
        res = procs.run([procs.which("mkfs.ext4"), "-q", "-F", "-m", "0", str(image)], check=False)
        if res.returncode != 0:
            image.unlink(missing_ok=True)
            raise DockyardError(f"could not make a filesystem for the sandbox disk: {res.stderr.strip()}",
                                "check free space on the host, or leave out --disk")
    res = procs.run(["mount", "-o", "loop", str(image), str(target)], check=False)
    if res.returncode != 0:
        raise DockyardError(f"could not loop-mount the sandbox disk {image}: {res.stderr.strip()}",
                            "the host needs loop devices (modprobe loop), or leave out --disk")


def disk_usage(path: Path) -> dict:
    st = os.statvfs(path)
    return {"total": st.f_blocks * st.f_frsize, "free": st.f_bavail * st.f_frsize}
