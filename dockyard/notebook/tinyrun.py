"""A container runtime in 30 lines: python3 tinyrun.py ROOTFS COMMAND [ARGS...] (lesson 01).

It asks the kernel for new namespaces with unshare(2), the same call runc makes. A user namespace
among them makes it root inside only, so it needs no root on the host (rootless Docker and Podman
start containers this way). It runs as its own process, never inside a notebook's kernel: a process
cannot leave a namespace once it has entered it.
"""
import ctypes
import os
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER = 0x20000000, 0x40000000, 0x10000000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
libc = ctypes.CDLL(None, use_errno=True)


def check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        sys.exit(f"{what} failed: {os.strerror(err)} (errno {err})")


def main(rootfs, command):
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET),
          "unshare")
    # root (uid 0) in the new user namespace is our own uid outside: no privilege on the host
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    # our copy of the mount table must not pass new mounts back to the host
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making mounts private")
    check(libc.sethostname(b"tiny", 4), "sethostname")
    pid = os.fork()  # the first child in the new PID namespace is its PID 1
    if pid == 0:
        os.chroot(rootfs)
        os.chdir("/")
        check(libc.mount(b"proc", b"/proc", b"proc", 0, None), "mounting /proc")
        os.execve(command[0], command, {"PATH": "/bin:/sbin:/usr/bin:/usr/sbin"})
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__.splitlines()[0])
    sys.exit(main(sys.argv[1], sys.argv[2:]))
