"""One bounded HTTP GET on 127.0.0.1, for the checks that ask a learner's server something.

A socket timeout bounds one read only: a server that trickles a byte a second, or sends headers without end, would
hold the grader. Here a check's :class:`Budget` is shared by all its requests, each read waits at most min(3 s, the
time left), and an answer is read to :data:`READ_LIMIT` bytes at most.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import time

READ_LIMIT = 64 * 1024  # bytes of an HTTP answer read at most (status line, headers, the body's start)


class Budget:
    """One check's time for its HTTP answers, shared by every request it makes (a slow peer spends it once)."""

    def __init__(self, seconds: float, ends: float | None = None):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds if ends is None else ends

    def left(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def share(self, seconds: float) -> Budget:
        """At most ``seconds`` of this budget, for one step of the check (the rest stays for the next)."""
        return Budget(seconds, min(self.ends, time.monotonic() + seconds))


class OutOfTime(OSError):
    pass


class _BoundedReader(io.RawIOBase):
    """The socket's bytes for http.client, at most ``limit`` of them and none after the budget ends.

    A socket timeout bounds one read only: a peer that sends a byte a second keeps every read short and the
    answer endless. Here each read waits at most min(3 s, the time left), and the time left is the whole check's."""

    def __init__(self, sock: socket.socket, budget: Budget, limit: int):
        self.sock, self.budget, self.left_bytes = sock, budget, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        left = self.budget.left()
        if left <= 0:
            raise OutOfTime(f"no full answer within {self.budget.seconds:g} s")
        if self.left_bytes <= 0:
            raise OutOfTime(f"an answer longer than {READ_LIMIT // 1024} KiB")
        wait = min(3.0, left)
        self.sock.settimeout(wait)
        try:
            n = self.sock.recv_into(memoryview(buf)[:self.left_bytes])
        except socket.timeout:
            if wait < 3.0:  # the budget's end, not 3 s of silence (which is worth asking again)
                raise OutOfTime(f"no full answer within {self.budget.seconds:g} s") from None
            raise
        self.left_bytes -= n
        return n


class _Socket:
    """What http.client.HTTPResponse needs of a socket: ``makefile``, here over a :class:`_BoundedReader`."""

    def __init__(self, sock: socket.socket, budget: Budget):
        self.reader = io.BufferedReader(_BoundedReader(sock, budget, READ_LIMIT))

    def makefile(self, mode: str):
        return self.reader


def get_once(port: int, path: str, budget: Budget, body: int) -> tuple[int, bytes]:
    """One GET of ``path`` on 127.0.0.1:``port``: (status, the first ``body`` bytes of the body), bounded by
    ``budget``: :class:`OutOfTime` when the answer is not all there in time or is longer than :data:`READ_LIMIT`.
    No redirect is followed: a check talks to 127.0.0.1 and nowhere a learner's server points it."""
    if re.search(r"[\x00-\x20\x7f]", path):  # as http.client refuses it: no header can ride in on the path
        raise http.client.InvalidURL(f"URL can't contain control characters. {path!r}")
    with socket.create_connection(("127.0.0.1", port), timeout=max(0.01, min(3.0, budget.left()))) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: identity\r\n"
                     "Connection: close\r\n\r\n".encode("latin-1"))
        resp = http.client.HTTPResponse(_Socket(sock, budget), method="GET")
        resp.begin()
        return resp.status, resp.read(body)


