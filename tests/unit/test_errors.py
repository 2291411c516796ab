import docker.errors
import requests
import requests.exceptions

from dockyard.errors import (
    ContainerNotFound, DaemonError, DockerAPIError, DockyardError, ImageNotFound, MissingDependency, NotRoot,
    NotRunning, translate_docker_error,
)


def test_str_has_problem_and_fix_on_its_own_line():
    err = DockyardError("the thing broke", "run: fix-it")
    assert str(err) == "the thing broke\n  → run: fix-it"
    assert (err.problem, err.fix, err.context) == ("the thing broke", "run: fix-it", {})


def test_str_without_fix_is_just_the_problem():
    assert str(DockyardError("only a problem")) == "only a problem"


def test_daemon_error_carries_the_log_tail():
    err = DaemonError("dockerd exited", "see the log", log_tail="line 1\nfailed to start daemon")
    assert err.log_tail.endswith("failed to start daemon")
    assert "failed to start daemon" in err.problem and "failed to start daemon" in str(err)
    assert str(err).endswith("→ see the log")


def test_specific_errors_name_their_fix():
    assert "dockyard up --name class1" in NotRunning("class1").fix
    assert "--backend existing" in NotRoot("starting it").fix
    missing = MissingDependency("dockerd", "docker.io")
    assert "apt-get install -y docker.io" in missing.fix
    assert missing.context == {"program": "dockerd", "package": "docker.io"}


def test_translate_connection_error():
    err = translate_docker_error(requests.exceptions.ConnectionError("refused"), "listing containers")
    assert type(err) is DaemonError
    assert err.problem.startswith("listing containers:")
    assert "dockyard status" in err.fix


def test_translate_image_not_found():
    err = translate_docker_error(docker.errors.ImageNotFound("No such image: nginx:latest"), "running nginx")
    assert isinstance(err, ImageNotFound) and isinstance(err, DockerAPIError)
    assert err.status == 404
    assert "No such image: nginx:latest" in err.problem
    assert "docker image ls" in err.fix


def test_translate_not_found():
    err = translate_docker_error(docker.errors.NotFound("No such container: web"), "stopping web")
    assert type(err) is ContainerNotFound
    assert err.status == 404 and "docker ps -a" in err.fix


def test_translate_api_error_keeps_the_status():
    resp = requests.Response()
    resp.status_code = 409
    exc = docker.errors.APIError("409 Conflict", response=resp, explanation="name already in use")
    err = translate_docker_error(exc, "creating web")
    assert type(err) is DockerAPIError
    assert err.status == 409
    assert err.problem == "creating web: name already in use"


def test_translate_passes_dockyard_errors_through_and_wraps_the_rest():
    mine = NotRunning("x")
    assert translate_docker_error(mine, "anything") is mine
    assert type(translate_docker_error(docker.errors.DockerException("bad"), "doing")) is DockerAPIError
    other = translate_docker_error(ValueError("odd"), "parsing")
    assert type(other) is DockyardError and str(other) == "parsing: ValueError: odd"
