"""network.* checks against inspect data recorded from a real sandbox and probe answers recorded from busybox nc.

Recorded (tests/unit/grader/data/network_*.json): networks n1 (a user bridge), n2 (--internal) and the
default bridge; containers web1 (busybox httpd on n1 and n2), bat1 (--network none), side1 (--network
container:web1), pub1 (-p 8080:80) and pub2 (-p 127.0.0.1:8081:80).
"""

from __future__ import annotations

import io
import tarfile

import pytest

from grader.checks import network

from .fakes import FakeContext, load_data, run_check

CONTAINERS = ("web1", "bat1", "side1", "pub1", "pub2")
# what busybox nc (Debian's busybox-static 1.35) printed in each case, as the probe reports it
BAD_NAME = "nc: bad address 'dbs'"
REFUSED = "nc: can't connect to remote host (10.225.80.2): Connection refused"
TIMED_OUT = "nc: timed out"
NO_ROUTE = "nc: can't connect to remote host (10.225.81.3): Network is unreachable"


class _API:
    def __init__(self, networks):
        self.networks = networks

    def inspect_network(self, name):
        import docker.errors
        if name not in self.networks:
            raise docker.errors.NotFound(f"network {name} not found")
        return self.networks[name]


class _Client:
    def __init__(self, networks):
        self.api = _API(networks)


@pytest.fixture
def ctx():
    c = FakeContext(containers={n: load_data(f"network_container_{n}") for n in CONTAINERS})
    c.client = _Client({n: load_data(f"network_{n}") for n in ("n1", "n2", "bridge")})
    return c


@pytest.fixture
def answers(monkeypatch):
    """The probe's answers by (host, port); every probe asked is recorded in answers.asked."""
    table = {}
    table_asked = []

    def fake_probe(ctx, mode, targets, path=None):
        table_asked.append((mode, list(targets), path))
        return {t: table.get(t, (1, TIMED_OUT)) for t in targets}

    monkeypatch.setattr(network, "probe", fake_probe)
    table["asked"] = table_asked
    return table


def test_parse_probe_reads_the_first_line_per_target_with_this_runs_token():
    out = (f"@@t0k web1 80 0 peer HTTP/1.1 200 OK\n@@t0k dbs 80 1 nc {BAD_NAME}\nstray text\n"
           "@@t0k web1 80 1 nc forged second record\n@@other web2 80 0 nc \n")
    assert network.parse_probe(out, "t0k") == {("web1", 80): (0, "HTTP/1.1 200 OK", True),
                                               ("dbs", 80): (1, BAD_NAME, False)}


def test_a_peer_cannot_forge_a_record_or_an_error_word():
    # what a hostile server sends ends up in the peer's field of one line: \r, \x1c and \x85 split nothing
    out = "@@t0k db 5432 0 peer hello\r@@t0k db 5432 1 nc Connection refused\x85x\n"
    assert network.parse_probe(out, "t0k")[("db", 5432)][2] is True
    # a GET answered with the words of nc's own errors is no answer, and reaches: not "refused"
    assert network.classify(0, "Connection refused", "/", from_peer=True)[:2] == (False, "no_answer")
    assert network.classify(1, REFUSED, None)[:2] == (False, "refused")  # nc's own message (its stderr)


@pytest.mark.parametrize("rc,out,path,want", [
    (0, "", None, (True, "ok")),
    (1, BAD_NAME, None, (False, "no_name")),
    (1, REFUSED, None, (False, "refused")),
    (1, TIMED_OUT, None, (False, "timed_out")),
    (1, NO_ROUTE, None, (False, "no_route")),
    (0, "HTTP/1.1 200 OK", "/", (True, "ok")),
    (0, "HTTP/1.1 404 Not Found", "/", (False, "wrong_status")),
    (0, "", "/", (False, "no_answer")),
])
def test_classify_names_what_went_wrong(rc, out, path, want):
    assert network.classify(rc, out, path)[:2] == want


def test_probe_image_holds_only_static_busybox():
    with tarfile.open(fileobj=io.BytesIO(network._probe_rootfs())) as tf:
        files = {m.name for m in tf.getmembers() if m.isfile()}
    assert files == {"bin/busybox"}


def test_reach_from_inside_a_container_probes_its_namespace(ctx, answers):
    answers[("10.225.81.3", 80)] = (0, "HTTP/1.1 200 OK")  # dbs, on n2 with web1
    out = run_check("network.reach", ctx, name="web1", host="dbs", port=80, path="/")
    assert out.passed, out.message
    assert answers["asked"][0][0] == "container:" + load_data("network_container_web1")["Id"]
    assert "from inside web1" in out.message


def test_reach_as_a_newcomer_joins_the_network(ctx, answers):
    answers[("10.225.80.2", 80)] = (0, "")
    assert run_check("network.reach", ctx, network="n1", host="web1", port=80).passed
    assert answers["asked"][0][0] == "n1"
    out = run_check("network.reach", ctx, network="n1", host="dbs", port=80)  # dbs is on n2 only
    assert not out.passed and out.reason == "no_name" and len(answers["asked"]) == 1
    assert "does not resolve" in out.message and "expected it to" in out.message


def test_a_missing_network_is_named(ctx, answers):
    out = run_check("network.reach", ctx, network="shop-front", host="api", port=8080)
    assert (out.passed, out.reason) == (False, "no_network")
    assert "no network named shop-front" in out.message and not answers["asked"]


def test_a_name_lookup_that_times_out_on_the_default_bridge_means_no_dns(ctx, answers):
    out = run_check("network.reach", ctx, network="bridge", host="web1", port=80)
    assert out.reason == "no_name" and "default bridge has no DNS" in out.message


def test_isolation_tries_the_name_and_every_address(ctx, answers):
    out = run_check("network.reach", ctx, name="pub2", host="web1", port=80, reachable=False, by_ip=True)
    assert out.passed, out.message
    ips = sorted(n["IPAddress"] for n in load_data("network_container_web1")["NetworkSettings"]["Networks"].values())
    assert answers["asked"][0][1] == [(ip, 80) for ip in ips]  # the name leads nowhere from the default bridge
    assert out.evidence["answers"]["web1:80"].startswith("the name does not resolve there")


def test_isolation_fails_when_any_address_answers(ctx, answers):
    ip = load_data("network_container_web1")["NetworkSettings"]["Networks"]["n2"]["IPAddress"]
    answers[("web1", 80)] = (1, BAD_NAME)
    answers[(ip, 80)] = (0, "")
    out = run_check("network.reach", ctx, name="pub2", host="web1", port=80, reachable=False, by_ip=True)
    assert (out.passed, out.reason) == (False, "reachable")
    assert f"{ip}:80 answers" in out.message


def test_isolation_from_a_missing_target_proves_nothing(ctx, answers):
    out = run_check("network.reach", ctx, name="web1", host="shop-db", port=5432, reachable=False)
    assert (out.passed, out.reason) == (False, "missing") and not answers["asked"]


def test_reach_needs_exactly_one_origin(ctx, answers):
    assert run_check("network.reach", ctx, host="x", port=1).reason == "bad_spec"
    assert run_check("network.reach", ctx, name="web1", network="n1", host="x", port=1).reason == "bad_spec"


@pytest.mark.parametrize("name,networks,passed,reason", [
    ("web1", ["n1", "n2"], True, None),
    ("web1", ["n1"], False, "extra_network"),
    ("web1", ["n1", "n2", "front"], False, "not_attached"),
    ("bat1", ["none"], True, None),
    ("web1", ["none"], False, "not_none"),
    ("side1", ["n1"], False, "shared"),
    ("pub1", ["shop-front"], False, "not_attached"),
])
def test_attached_compares_the_exact_set(ctx, name, networks, passed, reason):
    out = run_check("network.attached", ctx, name=name, networks=networks)
    assert (out.passed, out.reason) == (passed, reason), out.message


def test_attached_on_the_default_bridge_says_names_do_not_resolve_there(ctx):
    out = run_check("network.attached", ctx, name="pub1", networks=["shop-front"])
    assert "docker network connect shop-front pub1" in out.hint and "by name" in out.hint


@pytest.mark.parametrize("name,internal,passed,reason", [
    ("n1", None, True, None), ("n2", True, True, None), ("n1", True, False, "not_internal"),
    ("n2", False, False, "internal"), ("missing", None, False, "no_network"), ("bridge", None, False, "bad_spec"),
])
def test_exists(ctx, name, internal, passed, reason):
    params = {"name": name} if internal is None else {"name": name, "internal": internal}
    out = run_check("network.exists", ctx, **params)
    assert (out.passed, out.reason) == (passed, reason), out.message


def test_published_on_reads_what_the_flag_asked_not_where_the_sandbox_bound_it(ctx):
    pub1 = load_data("network_container_pub1")
    assert pub1["NetworkSettings"]["Ports"]["80/tcp"][0]["HostIp"] == "127.0.0.1"  # the sandbox's --ip
    out = run_check("network.published_on", ctx, name="pub1", container_port=80)
    assert (out.passed, out.reason) == (False, "all_addresses")
    assert "every address" in out.message and "ufw" in out.hint
    assert run_check("network.published_on", ctx, name="pub2", container_port=80).passed
    assert run_check("network.published_on", ctx, name="web1", container_port=80).reason == "not_published"


def test_an_isolation_check_counts_any_answer_from_the_other_side_as_reached(ctx, answers):
    answers[("10.225.80.2", 80)] = (0, "Connection refused", True)  # a server that greets with nc's words
    out = run_check("network.reach", ctx, network="n1", host="web1", port=80, path="/", reachable=False)
    assert not out.passed and out.reason == "reachable", out.message


# --- names: resolved by the grader from the daemon's data, never inside the learner's container ----------------
# Whoever is inside web1 can rewrite its /etc/hosts (echo "10.225.81.2 dbs" >> /etc/hosts: db1 answers as dbs) or
# its resolv.conf. So the probe is only ever given addresses, each the target's address on a network the two share.
def test_the_probe_is_given_the_daemons_address_of_the_target_never_its_name(ctx, answers):
    out = run_check("network.reach", ctx, name="web1", host="dbs", port=5432)
    assert answers["asked"][0][1] == [("10.225.81.3", 5432)]  # dbs's IPv4Address in n2's inspect, not db1's
    assert out.evidence["resolved"] == {"dbs": "10.225.81.3 (dbs's address on n2)"}


def test_every_probe_target_is_an_address(ctx, answers):
    for params in ({"name": "web1", "host": "dbs"}, {"network": "n2", "host": "db1"}, {"name": "side1", "host": "dbs"},
                   {"name": "pub2", "host": "web1", "reachable": False, "by_ip": True}):
        run_check("network.reach", ctx, port=80, **params)
    targets = [h for _mode, asked, _path in answers["asked"] for h, _p in asked]
    assert targets and all(network._is_address(h) for h in targets), targets


def test_a_network_alias_resolves_on_its_network_only(ctx, answers):
    web1 = ctx.containers_["web1"]
    web1["NetworkSettings"]["Networks"]["n1"]["Aliases"].append("shop")
    answers[("10.225.80.2", 80)] = (0, "")
    assert run_check("network.reach", ctx, network="n1", host="shop", port=80).passed
    assert run_check("network.reach", ctx, network="n2", host="shop", port=80).reason == "no_name"


def test_a_shared_namespace_resolves_through_its_owners_networks(ctx, answers):
    out = run_check("network.reach", ctx, name="side1", host="dbs", port=80)
    assert answers["asked"][0] == ("container:" + load_data("network_container_side1")["Id"], [("10.225.81.3", 80)],
                                   None)
    assert out.reason == "timed_out"


def test_the_default_bridge_resolves_only_what_docker_wrote_in_hosts(ctx, answers):
    assert run_check("network.reach", ctx, name="pub2", host="pub1", port=80).reason == "no_name"
    assert not answers["asked"]
    ctx.containers_["pub2"]["HostConfig"]["Links"] = ["/pub1:/pub2/api"]  # --link pub1:api
    answers[("10.213.181.2", 80)] = (0, "")
    out = run_check("network.reach", ctx, name="pub2", host="api", port=80)
    assert out.passed and out.evidence["resolved"]["api"] == "10.213.181.2 (--link pub1:api, pub1's address on bridge)"
    assert run_check("network.reach", ctx, name="pub2", host="localhost", port=80).evidence["resolved"] == {
        "localhost": "127.0.0.1 (localhost)"}


def test_an_added_host_counts_only_as_the_address_of_a_container_beside_it(ctx, answers):
    ctx.containers_["pub2"]["HostConfig"]["ExtraHosts"] = ["api:10.213.181.2", "far:10.9.9.9"]
    answers[("10.213.181.2", 80)] = (0, "")
    assert run_check("network.reach", ctx, name="pub2", host="api", port=80).passed
    out = run_check("network.reach", ctx, name="pub2", host="far", port=80)
    assert out.reason == "no_name" and "10.9.9.9, which is no container's address on bridge" in out.message
    assert [asked for _m, asked, _p in answers["asked"]] == [[("10.213.181.2", 80)]]
