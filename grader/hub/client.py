"""A small client of a hub's REST API and of a learner server's kernels (for the tests and the benchmark).

    hub = HubClient("http://127.0.0.1:8000")
    alice = hub.login("alice", password)          # the login form, then a token of alice's own
    alice.spawn(); alice.wait_ready()
    print(alice.run("!docker ps"))                # one cell in a kernel of alice's server
    alice.stop()
"""

from __future__ import annotations

import json
import time
import uuid

import requests


class HubError(RuntimeError):
    pass


class HubClient:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def login(self, name: str, password: str) -> "UserClient":
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30)
        xsrf = s.cookies.get("_xsrf", "")
        r = s.post(f"{self.url}/hub/login", data={"username": name, "password": password, "_xsrf": xsrf},
                   allow_redirects=False, timeout=60)
        if r.status_code != 302 or "/hub/login" in r.headers.get("Location", "/hub/login"):
            raise HubError(f"login of {name} refused ({r.status_code})")
        r = s.post(f"{self.url}/hub/api/users/{name}/tokens", json={"note": "dockyard client", "expires_in": 3600},
                   headers={"X-XSRFToken": s.cookies.get("_xsrf", xsrf)}, timeout=30)
        if r.status_code != 201:
            raise HubError(f"no token for {name}: {r.status_code} {r.text[:200]}")
        return UserClient(self.url, name, r.json()["token"], s)


class UserClient:
    def __init__(self, url: str, name: str, token: str, session: requests.Session | None = None):
        self.url, self.name, self.token = url, name, token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.browser = session  # the logged-in cookie session, for pages

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, f"{self.url}/hub/api{path}", timeout=kw.pop("timeout", 60), **kw)

    def info(self) -> dict:
        r = self.api("GET", f"/users/{self.name}")
        r.raise_for_status()
        return r.json()

    def spawn(self) -> None:
        r = self.api("POST", f"/users/{self.name}/server")
        if r.status_code not in (201, 202, 400):  # 400: already running
            raise HubError(f"spawn of {self.name}: {r.status_code} {r.text[:300]}")

    def wait_ready(self, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.info().get("servers", {}).get("", {})
            if server.get("ready"):
                return server
            if not server.get("pending") and not server:
                raise HubError(f"{self.name}'s server is neither pending nor ready")
            time.sleep(0.2)
        raise HubError(f"{self.name}'s server was not ready after {timeout:.0f} s")

    def stop(self, timeout: float = 120) -> None:
        r = self.api("DELETE", f"/users/{self.name}/server")
        if r.status_code not in (202, 204, 400):
            raise HubError(f"stop of {self.name}: {r.status_code} {r.text[:300]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.info().get("servers"):
                return
            time.sleep(0.2)
        raise HubError(f"{self.name}'s server did not stop in {timeout:.0f} s")

    # --- the learner's own server ------------------------------------------------------
    def server(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, f"{self.url}/user/{self.name}{path}", timeout=kw.pop("timeout", 60), **kw)

    def kernel(self) -> str:
        r = self.server("POST", "/api/kernels", json={"name": "python3"})
        r.raise_for_status()
        return r.json()["id"]

    def run(self, code: str, kernel: str | None = None, timeout: float = 120) -> dict:
        """Execute ``code`` in a kernel of this learner's server; {"stdout", "stderr", "error", "result"}."""
        import websocket

        kid = kernel or self.kernel()
        ws_url = self.url.replace("http", "ws", 1) + f"/user/{self.name}/api/kernels/{kid}/channels"
        ws = websocket.create_connection(ws_url, header=[f"Authorization: token {self.token}"], timeout=timeout)
        try:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({"header": {"msg_id": msg_id, "username": self.name, "session": uuid.uuid4().hex,
                                           "msg_type": "execute_request", "version": "5.3"},
                                "parent_header": {}, "metadata": {}, "channel": "shell",
                                "content": {"code": code, "silent": False, "store_history": False,
                                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
            out = {"stdout": "", "stderr": "", "error": None, "result": None}
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out[content["name"]] += content["text"]
                elif kind == "execute_result":
                    out["result"] = content["data"].get("text/plain")
                elif kind == "error":
                    out["error"] = f"{content['ename']}: {content['evalue']}"
                elif kind == "status" and content["execution_state"] == "idle":
                    return out
            raise HubError(f"cell in {self.name}'s kernel did not finish in {timeout:.0f} s")
        finally:
            ws.close()
            if kernel is None:
                self.server("DELETE", f"/api/kernels/{kid}")
