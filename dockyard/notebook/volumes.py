"""Lesson 07's helpers: a SQLite database read inside containers, mounts as tables, what ``-v`` makes of a
source, who owns the files, and the lesson's picture of where the data survived.

The lesson's cells stay what a learner types (``sh("docker run -v dbdata:/data ...")``); the
reading of ``docker inspect`` into tables and the plot live here.
"""

from __future__ import annotations

import ast
import json
import os
import pwd
import re
import shlex
import shutil
import sqlite3
import subprocess

from . import Table, sandbox, sh

CREATE = """
import sqlite3
db = sqlite3.connect("{path}")
db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
db.executemany("INSERT INTO orders (item) VALUES (?)", [("coffee",), ("tea",), ("cake",)])
db.commit()
print("created {path} with", db.execute("SELECT count(*) FROM orders").fetchone()[0], "rows")
"""
# mode=ro: a plain connect() would quietly create an empty database where the file is missing
QUERY = ('import sqlite3; db = sqlite3.connect("file:{path}?mode=ro", uri=True); '
         'print(db.execute("SELECT id, item FROM orders").fetchall())')
PY = "python:3.11-slim"


def make_db(container: str, path: str) -> None:
    """Create the table ``orders`` with three rows in a database at ``path`` inside ``container``."""
    sh(f"docker exec {container} python3 -c {shlex.quote(CREATE.format(path=path))}")


def _rows(out: str):
    try:
        return ast.literal_eval(out.strip().splitlines()[-1])
    except (ValueError, SyntaxError, IndexError):
        return None


def rows_in(container: str, path: str = "/data/shop.db"):
    """The rows of ``orders``, read inside ``container``; None when the query fails (its error is printed)."""
    return _rows(sh(f"docker exec {container} python3 -c {shlex.quote(QUERY.format(path=path))}", check=False))


def rows_in_new_container(volume: str, path: str = "/data/shop.db"):
    """Like :func:`rows_in`, in a new container that mounts ``volume`` at /data and is removed afterwards."""
    return _rows(sh(f"docker run --rm -v {volume}:/data {PY} python3 -c {shlex.quote(QUERY.format(path=path))}",
                    check=False))


def rows_on_host(path: str):
    """The same query, run by this notebook's own Python on a file of the host."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT id, item FROM orders").fetchall()


def mounts_of(container: str) -> list[dict]:
    """``docker inspect``'s Mounts, plus the ``--tmpfs`` mounts, which Docker lists only in HostConfig.Tmpfs."""
    ins = sandbox().client.api.inspect_container(container)
    out = list(ins.get("Mounts") or [])
    for dest, opts in ((ins.get("HostConfig") or {}).get("Tmpfs") or {}).items():
        out.append({"Type": "tmpfs", "Source": f"(memory: {opts or 'no options'})", "Destination": dest,
                    "RW": "ro" not in (opts or "").split(",")})
    return out


def mounts(container: str) -> Table:
    """``docker inspect``'s Mounts of a container: type, volume name or host path, destination, writable."""
    rows = [(m["Type"], m.get("Name") or m.get("Source", ""), m["Destination"], m.get("RW")) for m in
            mounts_of(container)]
    return Table(rows, ["type", "volume name or host path", "in the container", "RW"], title=f"{container}: Mounts")


def compare(volume_container: str, bind_container: str, seen: dict) -> Table:
    """A named volume and a bind mount side by side, the first rows read from the two containers."""
    vol = next(m for m in mounts_of(volume_container) if m["Destination"] == "/data")
    bind = next(m for m in mounts_of(bind_container) if m["Destination"] == "/data")
    listed = sh("docker volume ls -q", quiet=True).split()
    return Table([
        ("Mounts[].Type (docker inspect)", vol["Type"], bind["Type"]),
        ("where the data lives", vol["Source"], bind["Source"]),
        ("who picks and manages that folder", "the daemon (its data-root)", "you"),
        ("rows after docker rm", seen.get("named volume, after rm"), seen.get("bind mount, after rm")),
        ("listed by docker volume ls", vol.get("Name") in listed, bind["Source"] in listed),
        ("removed by", "docker volume rm / prune", "only you: Docker never deletes it"),
    ], ["", "named volume", "bind mount"], title="the same database, two kinds of mount")


def clis() -> list[str]:
    """The docker CLIs on this machine: the one on PATH first, then Debian's /usr/bin/docker if it differs."""
    found = [shutil.which("docker")] + ["/usr/bin/docker"]
    out: list[str] = []
    for path in found:
        if path and os.path.exists(path) and os.path.realpath(path) not in {os.path.realpath(p) for p in out}:
            out.append(path)
    return out


def cli_version(cli: str) -> str:
    res = subprocess.run([cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True,
                         env={**os.environ, **sandbox().env()}, timeout=30)
    return res.stdout.strip() or "?"


def short_error(err: str) -> str:
    """The daemon's refusal without its prefixes and the character class it quotes."""
    err = err.removeprefix("docker: ").removeprefix("Error response from daemon: ")
    err = re.sub(r"^create [^:]+: ", "", err)
    return re.sub(r', only "\[[^"]*\]" are allowed\.', " (…).", err)


def what_v_makes(source: str, cli: str = "docker", cwd: str | None = None) -> tuple[str, str, str, str]:
    """What ``docker create -v SOURCE:/x`` makes, run with the CLI ``cli`` in ``cwd``.

    ``(cli and its version, -v SOURCE:/x, what the daemon mounted or why it refused)``; the container,
    and a volume the attempt created, are removed again."""
    box = sandbox()
    env = {**os.environ, **box.env()}
    before = set(sh("docker volume ls -q", quiet=True).split())
    name = f"dy07-v-{os.getpid()}"
    res = subprocess.run([cli, "create", "--name", name, "-v", f"{source}:/x", "busybox", "true"],
                         capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    if res.returncode == 0:
        m = next(m for m in mounts_of(name) if m["Destination"] == "/x")
        made = f"bind mount of {m['Source']}" if m["Type"] == "bind" else f"{m['Type']} {m.get('Name')!r}"
        subprocess.run([cli, "rm", "-f", name], capture_output=True, env=env, timeout=60)
    else:
        made = "refused: " + short_error((res.stderr.strip().splitlines() or ["?"])[0])
    for vol in set(sh("docker volume ls -q", quiet=True).split()) - before:
        sh(f"docker volume rm {vol}", quiet=True, check=False)
    return f"{os.path.basename(cli)} {cli_version(cli)}", cwd or ".", f"-v {source}:/x", made


def what_api_makes(source: str) -> tuple[str, str, str, str]:
    """The same through the Engine API (docker-py), which passes the source to the daemon unchanged."""
    import docker

    client = sandbox().client
    try:
        c = client.containers.create("busybox", "true", volumes={source: {"bind": "/x", "mode": "rw"}})
    except docker.errors.APIError as exc:
        return "API (docker-py)", ".", f"volumes={{{source!r}: ...}}", f"refused: {short_error(exc.explanation)}"
    m = next(m for m in c.attrs["Mounts"] if m["Destination"] == "/x")
    c.remove(force=True)
    return ("API (docker-py)", ".", f"volumes={{{source!r}: ...}}",
            f"bind mount of {m['Source']}" if m["Type"] == "bind" else f"{m['Type']} {m.get('Name')!r}")


def v_table(rows) -> Table:
    return Table(rows, ["client", "run in", "asked for", "what the daemon did"], title="what -v makes of a source")


def owners(folder: str) -> Table:
    """Each file of ``folder``: owner uid and gid on the host, and the host's name for that uid."""
    def name(uid):
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return "(no such user on this host)"

    rows = []
    for f in sorted(os.listdir(folder)):
        st = os.stat(os.path.join(folder, f))
        rows.append((f, st.st_uid, st.st_gid, name(st.st_uid)))
    return Table(rows, ["file", "owner uid (on the host)", "gid", "that uid's name on the host"],
                 title=f"files containers wrote into {folder}")


def remove_leftovers(containers, volumes, image: str | None = None, marker: str | None = None) -> None:
    """``docker rm -f -v`` the lesson's containers, then its volumes: named ones, and anonymous ones whose
    data holds ``marker`` (made from the lesson's image), then the image."""
    existing = set(sh("docker ps -a --format '{{.Names}}'", quiet=True).split())
    doomed = [n for n in containers if n in existing]
    if doomed:
        sh("docker rm -f -v " + " ".join(doomed), check=False, quiet=True)
    names = sh("docker volume ls -q", quiet=True).split()
    gone = [v for v in names if v in volumes]
    if marker and names:
        for v in json.loads(sh("docker volume inspect " + " ".join(names), quiet=True)):
            if len(v["Name"]) == 64 and os.path.exists(os.path.join(v["Mountpoint"], marker)):
                gone.append(v["Name"])
            elif len(v["Name"]) == 64 and not os.access(v["Mountpoint"], os.R_OK):
                # the daemon's folders are hidden from an unprivileged kernel: look through a container
                probe = sh(f"docker run --rm -v {v['Name']}:/v busybox ls -A /v", quiet=True, check=False)
                if marker in probe.split():
                    gone.append(v["Name"])
    if gone:
        sh("docker volume rm -f " + " ".join(dict.fromkeys(gone)), check=False, quiet=True)
    if image:
        sh(f"docker image rm -f {image}", check=False, quiet=True)


def survival_plot(seen: dict) -> None:
    """A bar per step of the lesson: the rows found then (red and "gone" for none)."""
    import matplotlib.pyplot as plt

    steps, counts = list(seen), [c or 0 for c in seen.values()]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    bars = ax.bar(range(len(steps)), counts, color=["#4c9f70" if c else "#d1495b" for c in counts])
    for bar, c in zip(bars, counts):
        ax.text(bar.get_x() + bar.get_width() / 2, c + 0.08, str(c) if c else "gone", ha="center",
                color="black" if c else "#d1495b", weight="normal" if c else "bold")
    ax.set_xticks(range(len(steps)), steps, rotation=20, ha="right")
    ax.set_ylabel("rows in orders")
    ax.set_ylim(0, max(counts + [1]) + 1)
    ax.set_title("Where the data survived")
    fig.tight_layout()
    plt.show()
