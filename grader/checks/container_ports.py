"""container.port: published ports, and a real probe through 127.0.0.1 (never any other address)."""

from __future__ import annotations

import http.client
import socket
import time

from .httpget import Budget, OutOfTime, get_once
from .base import Failed, Param, check, fail, ok
from .container import NAME, PROBE_BUDGET, _cname, _inspect, _log_tail, _not_running

# --- ports ------------------------------------------------------------------------------
def _bindings(ports: dict | None, key: str) -> list[tuple[str, str]]:
    return [(b.get("HostIp") or "", b.get("HostPort") or "") for b in (ports or {}).get(key) or []]


def _all_bindings(ins: dict) -> list[tuple[str, str, str]]:
    """(container port/proto, host ip, host port) from the runtime state and the configuration."""
    out = []
    for ports in ((ins.get("NetworkSettings") or {}).get("Ports"), (ins.get("HostConfig") or {}).get("PortBindings")):
        for key, binds in (ports or {}).items():
            for b in binds or []:
                out.append((key, b.get("HostIp") or "", b.get("HostPort") or ""))
    return out


def _tcp_probe(port: int, deadline: float) -> tuple[bool, str]:
    """Whether something answers behind 127.0.0.1:port.

    docker-proxy accepts every connection and closes it at once when nothing
    listens inside the container, so a bare connect proves nothing: the
    connection must stay open (or send data) for a moment.
    """
    last = "no connection"
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(0.5)
                try:
                    if s.recv(1):
                        return True, "it sent data"
                    last = "the connection was closed at once: nothing listens on that port inside the container"
                except socket.timeout:
                    return True, "the connection stayed open"
        except ConnectionResetError:
            last = "the connection was reset: nothing listens on that port inside the container"
        except OSError as exc:
            last = exc.strerror or str(exc)
        if time.monotonic() + 0.25 >= deadline:
            return False, last
        time.sleep(0.25)


def _http_probe(port: int, path: str, deadline: float) -> tuple[int | None, str]:
    """GET ``path`` on 127.0.0.1:``port`` until an answer or the deadline: (status, the body's start) or (None, the
    last error). The whole of it is bounded (:mod:`.httpget`): a server that trickles cannot hold the grader."""
    budget, last = Budget(max(0.5, deadline - time.monotonic())), "no answer"
    while True:
        try:
            status, body = get_once(port, path, budget, 300)
            return status, body.decode(errors="replace")
        except OutOfTime as exc:
            return None, str(exc)
        except (OSError, http.client.HTTPException) as exc:
            last = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        if budget.left() <= 0.25:
            return None, last
        time.sleep(0.25)


def _not_published(ins: dict, cname: str, key: str, container_port: int, host_port: int | None,
                   everything: list, evidence: dict):
    """Why the port has no binding: published the wrong way round (-p CONTAINER:HOST), only exposed, or not at all."""
    protocol = key.split("/")[1]
    want_host = f"{host_port}" if host_port else "HOST"
    rev = [b for b in everything if b[2] == str(container_port) and b[0] != key]
    rev.sort(key=lambda b: b[0] != f"{host_port}/{protocol}")
    if rev:
        k, _ip, hp = rev[0]
        return fail(f"container port {key} of {cname} is not published; instead host port {hp} is mapped to "
                    f"container port {k} (-p {hp}:{k.split('/')[0]})", reason="reversed", **evidence,
                    hint=f"-p HOST:CONTAINER; you wrote it the other way round: use -p {want_host}:{container_port}")
    exposed = key in ((ins.get("NetworkSettings") or {}).get("Ports") or {}) or \
        key in (ins["Config"].get("ExposedPorts") or {})
    return fail(f"container port {key} of {cname} is not published" + (" (it is only exposed)" if exposed else "")
                + f"; published: {', '.join(evidence['bindings']) or 'nothing'}", reason="not_published",
                hint=f"ports are published when the container is created: docker rm -f {cname}, then "
                     f"docker run -p {want_host}:{container_port} ...", **evidence)


def _probe_http(ctx, cname: str, key: str, container_port: int, hp: str, path: str, expect_status: int,
                deadline: float, evidence: dict):
    url = f"http://127.0.0.1:{hp}{path}"
    status, body = _http_probe(int(hp), path, deadline)
    evidence.update(url=url, status=status, body=body[:300])
    if status is None:
        return fail(f"GET {url} got no answer ({body}); expected HTTP {expect_status}", reason="no_answer",
                    **evidence, hint=_listen_hint(ctx, cname, container_port))
    if status != expect_status:
        return fail(f"GET {url} answered HTTP {status}; expected {expect_status}", reason="wrong_status",
                    hint=f"the server runs but does not serve {path} as expected: check its files and "
                         f"docker logs {cname}", **evidence)
    return ok(f"GET {url} answered HTTP {status} (container port {key})", **evidence)


def _probe_tcp(ctx, cname: str, key: str, container_port: int, hp: str, deadline: float, evidence: dict):
    alive, how = _tcp_probe(int(hp), deadline)
    evidence["detail"] = how
    if not alive:
        return fail(f"127.0.0.1:{hp} (container port {key}) does not answer: {how}; expected a server there",
                    reason="no_answer", hint=_listen_hint(ctx, cname, container_port), **evidence)
    return ok(f"127.0.0.1:{hp} answers (container port {key}; {how})", **evidence)


def _current_bindings(ins: dict, key: str) -> list[tuple[str, str]]:
    """The port's (host ip, host port) bindings: those in force while it runs, those configured when it does not."""
    if ins["State"].get("Running"):
        return _bindings((ins.get("NetworkSettings") or {}).get("Ports"), key)
    return _bindings((ins.get("HostConfig") or {}).get("PortBindings"), key)


def _shown_bindings(everything: list[tuple[str, str, str]]) -> list[str]:
    """Every binding as ``ip:port->container port/proto`` (``*`` any address, ``random`` a port docker picks)."""
    return sorted({f"{h or '*'}:{p or 'random'}->{k}" for k, h, p in everything})


def _on_host_port(binds: list[tuple[str, str]], host_port: int) -> bool:
    return any(hp == str(host_port) for _ip, hp in binds)


def _host_port_to_probe(binds: list[tuple[str, str]], host_port: int | None) -> str | None:
    """The host port asked for, or the first one docker bound; None while a random one is not bound yet."""
    return str(host_port) if host_port else next((hp for _ip, hp in binds if hp), None)


def _published(cname: str, key: str, binds: list[tuple[str, str]], evidence: dict):
    return ok(f"container port {key} of {cname} is published on host port "
              f"{', '.join(hp or 'random' for _ip, hp in binds)}", **evidence)


def _wrong_host_port(cname: str, key: str, container_port: int, host_port: int, binds: list, evidence: dict):
    have = ", ".join(hp or "a random port" for _ip, hp in binds)
    return fail(f"container port {key} of {cname} is published on host port {have}; expected host port {host_port}",
                reason="wrong_host_port", **evidence,
                hint=f"recreate it with -p {host_port}:{container_port} (the host port comes first)")


def _probe(ctx, cname: str, key: str, container_port: int, hp: str, probe: str, path: str, expect_status: int,
           evidence: dict):
    """Probe the host port through 127.0.0.1, by HTTP or bare TCP, within PROBE_BUDGET all retries together."""
    deadline = time.monotonic() + PROBE_BUDGET
    evidence.update(host_port=int(hp), probe=probe)
    if probe == "http":
        return _probe_http(ctx, cname, key, container_port, hp, path, expect_status, deadline, evidence)
    return _probe_tcp(ctx, cname, key, container_port, hp, deadline, evidence)


@check("container.port", name=NAME, container_port=Param(int, doc="the port inside the container"),
       host_port=Param(int, default=None, doc="the host port it must be published on (default: any)"),
       protocol=Param(str, default="tcp"), probe=Param(str, default="tcp", doc="tcp, http or none", choices=("tcp", "http", "none")),
       path=Param(str, default="/", doc="for probe http"), expect_status=Param(int, default=200, doc="for probe http"))
def port(ctx, name, container_port, host_port=None, protocol="tcp", probe="tcp", path="/", expect_status=200):
    """The container's port is published and answers."""
    ins = _inspect(ctx, name)
    cname, key = _cname(ins, name), f"{container_port}/{protocol}"
    binds = _current_bindings(ins, key)
    everything = _all_bindings(ins)
    evidence = {"bindings": _shown_bindings(everything)}
    if not binds:
        return _not_published(ins, cname, key, container_port, host_port, everything, evidence)
    if host_port and not _on_host_port(binds, host_port):
        return _wrong_host_port(cname, key, container_port, host_port, binds, evidence)
    if probe == "none":
        return _published(cname, key, binds, evidence)
    if not ins["State"].get("Running"):
        raise Failed(_not_running(ctx, ins, name, "probing its port"))
    hp = _host_port_to_probe(binds, host_port)
    if hp is None:
        return fail(f"container port {key} of {cname} has no host port yet; expected it published",
                    reason="not_published", hint=f"restart it (docker restart {cname}) and check again", **evidence)
    return _probe(ctx, cname, key, container_port, hp, probe, path, expect_status, evidence)


def _listen_hint(ctx, cname: str, container_port: int) -> str:
    hint = (f"the port is published but nothing answers: the program in {cname} must listen on port "
            f"{container_port} on all addresses (0.0.0.0), not 127.0.0.1")
    tail = _log_tail(ctx, cname, 3)
    return hint + (f"; its log ends with: {tail.splitlines()[-1]!r}" if tail else "")
