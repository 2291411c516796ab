import socket
import threading


from dockyard import daemon
from dockyard.config import SandboxConfig
from dockyard.daemon import BLACKHOLE_PROXY, api_get, dockerd_command, dockerd_env, ping

MIRROR = "http://127.0.0.1:5959"


def command(cgroup_parent=None, **cfg):
    return dockerd_command(SandboxConfig(name="class1", **cfg), dockerd="/usr/sbin/dockerd",
                           storage_driver="overlay2", mirror=MIRROR, cgroup_parent=cgroup_parent,
                           address_pool="10.220.16.0/20")


def test_dockerd_command_keeps_the_host_network_alone():
    cmd = command()
    assert cmd[0] == "/usr/sbin/dockerd"
    for flag in ("--iptables=false", "--ip-masq=false", "--ip-forward=false", "--ip=127.0.0.1",
                 "--bridge=dy-class1", f"--registry-mirror={MIRROR}", "--storage-driver=overlay2",
                 "--label=org.dockyard.sandbox=class1", "--default-address-pool=base=10.220.16.0/20,size=24"):
        assert flag in cmd
    assert not any(a.startswith("--cgroup-parent") for a in cmd)


def test_dockerd_command_answers_unknown_container_names_at_once():
    # without an ndots of our own, dockerd forwards a name it does not know to a DNS server no
    # container can reach, and the lookup waits out the resolver's 10 s timeout
    assert "--dns-opt=ndots:0" in command()


def test_dockerd_command_paths_match_the_config(dockyard_home):
    cfg = SandboxConfig(name="class1")
    cmd = command()
    assert f"--host=unix://{cfg.socket}" in cmd
    assert f"--data-root={cfg.data_root}" in cmd
    assert f"--exec-root={cfg.exec_root}" in cmd
    assert f"--pidfile={cfg.pidfile}" in cmd
    assert str(dockyard_home) in str(cfg.socket)


def test_dockerd_command_cgroup_parent_only_when_given():
    cmd = command(cgroup_parent="/dockyard-class1")
    assert [a for a in cmd if a.startswith("--cgroup-parent")] == ["--cgroup-parent=/dockyard-class1"]
    # a path needs the cgroupfs driver: dockerd would pick systemd's on a v2 host booted with it, and refuse the path
    assert "--exec-opt=native.cgroupdriver=cgroupfs" in cmd
    assert not any("cgroupdriver" in a for a in command())


BASE_ENV = {"PATH": "/bin", "HOME": "/root", "DOCKER_HOST": "tcp://elsewhere:2375",
            "http_proxy": "http://proxy:3128", "HTTPS_PROXY": "http://proxy:3128", "no_proxy": "corp"}


def test_dockerd_env_offline_sends_registry_traffic_to_the_blackhole():
    env = dockerd_env(dict(BASE_ENV), online=False)
    assert "DOCKER_HOST" not in env
    assert "http_proxy" not in env and "no_proxy" not in env
    assert env["HTTP_PROXY"] == env["HTTPS_PROXY"] == BLACKHOLE_PROXY == "http://127.0.0.1:9"
    assert "127.0.0.1" in env["NO_PROXY"].split(",")
    assert env["HOME"] == "/root"
    assert env["PATH"].split(":")[0] == "/bin" and "/usr/sbin" in env["PATH"].split(":")


def test_dockerd_env_online_has_no_proxy_settings():
    env = dockerd_env(dict(BASE_ENV), online=True)
    assert not {k for k in env if k.upper() in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "DOCKER_HOST")}


def test_dockerd_env_does_not_change_its_argument():
    base = dict(BASE_ENV)
    dockerd_env(base, online=False)
    assert base == BASE_ENV


# --- ping / api_get -------------------------------------------------------------------

def test_ping_without_a_socket(tmp_path):
    assert ping(tmp_path / "nothing.sock") is False


def test_ping_a_stale_socket_file(tmp_path):
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as s:  # what a crashed dockerd leaves behind
        s.bind(str(path))
    assert path.exists()
    assert ping(path) is False


def test_ping_a_daemon_that_never_answers(tmp_path):
    path = tmp_path / "hung.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        s.listen()  # accepts connections in the backlog, never replies
        answer = []
        t = threading.Thread(target=lambda: answer.append(ping(path, timeout=0.3)), daemon=True)
        t.start()
        t.join(30)  # a hang guard, not a speed test: without its timeout, ping would wait forever
        assert answer == [False]


def test_ping_and_api_get_against_a_fake_daemon(tmp_path, docker_api):
    sock = docker_api(tmp_path / "docker.sock")
    assert ping(sock) is True
    status, version = api_get(sock, "/version")
    assert status == 200 and version["ApiVersion"] == "1.41"
    assert api_get(str(sock), "/_ping") == (200, "OK")
    status, body = api_get(sock, "/nope")
    assert status == 404 and body == {"message": "page not found"}


def test_ping_something_that_is_not_http(tmp_path):
    path = tmp_path / "other.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen()

    def answer_garbage():
        conn, _ = srv.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"hello from some other program\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        assert daemon.ping(path) is False
    finally:
        srv.close()


def test_user_networks_come_from_the_sandboxs_own_pool():
    assert "--default-address-pool=base=10.220.16.0/20,size=24" in command()


def test_forwarding_view_only_where_the_host_switch_is_off(dockyard_home):
    cfg = SandboxConfig(name="class1")
    cfg.dir.mkdir(parents=True)
    cmd = command()
    assert daemon.with_forwarding_view(cfg, cmd, forwarding="1") == cmd
    wrapped = daemon.with_forwarding_view(cfg, cmd, forwarding="0")
    assert wrapped[:4] == ["unshare", "--mount", "--propagation", "unchanged"]  # the data-root's mounts still propagate
    assert wrapped[-len(cmd):] == cmd and (cfg.dir / "ip_forward").read_text() == "1\n"
    script = wrapped[wrapped.index("-c") + 1]
    # the bind is made only once /proc is private in dockerd's namespace, and dockerd starts either way
    assert script.index("--make-private /proc &&") < script.index("mount --bind") < script.index('exec "$@"')
