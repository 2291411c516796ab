"""Time one AuthZReq round trip to the seal (the plugin dockerd asks before every API request).

Starts the real plugin on a temporary socket and sends, over one kept-alive connection
as dockerd does, the recorded `docker run -v WORKSPACE:/x` create request and a GET.

    .venv/bin/python bench/authz_latency.py [--n 2000]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path

from dockyard.config import SandboxConfig
from dockyard.daemon import _UnixHTTPConnection
from dockyard.seal import Seal

RECORDED = json.loads((Path(__file__).resolve().parent.parent / "tests/data/authz/requests.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dyauthz") as home:
        cfg = SandboxConfig(name="benchauthz", home=Path(home))
        seal = Seal(cfg)
        seal.write_policy(RECORDED["workspace"], RECORDED["address_pool"])
        t0 = time.monotonic()
        seal.ensure()
        started = time.monotonic() - t0
        try:
            rec = RECORDED["requests"]["cli-allow-workspace-bind"]
            create = {"RequestMethod": "POST", "RequestUri": rec["uri"], "RequestHeaders": rec["headers"],
                      "RequestBody": base64.b64encode(rec["body"].encode()).decode()}
            ping = {"RequestMethod": "GET", "RequestUri": "/v1.41/containers/json", "RequestHeaders": {}}
            conn = _UnixHTTPConnection(str(cfg.authz_socket))
            out = {}
            for label, req in (("GET /containers/json", ping), ("POST /containers/create (bind)", create)):
                body = json.dumps(req)
                times = []
                for _ in range(args.n):
                    t = time.perf_counter()
                    conn.request("POST", "/AuthZPlugin.AuthZReq", body=body, headers={"Content-Type": "application/json"})
                    answer = json.loads(conn.getresponse().read())
                    times.append(time.perf_counter() - t)
                assert answer == {"Allow": True}, answer
                times.sort()
                out[label] = (statistics.median(times), times[int(len(times) * 0.99)])
            conn.close()
        finally:
            seal.stop()
    print(f"plugin start to first answer: {started * 1000:.0f} ms")
    for label, (med, p99) in out.items():
        print(f"{label}: median {med * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs (client included; target well under 1 ms)")


if __name__ == "__main__":
    main()
