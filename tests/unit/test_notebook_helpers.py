"""dockyard.notebook.sh runs with the sandbox's environment and reports failures."""

import pytest

from dockyard import notebook


@pytest.fixture(autouse=True)
def named(monkeypatch):
    monkeypatch.setenv("DOCKYARD_SANDBOX", "nbtest")


def test_sh_prints_returns_output_and_status(capsys):
    out = notebook.sh("echo hello; echo $DOCKYARD_SANDBOX")
    assert out == "hello\nnbtest\n" and out.returncode == 0
    assert capsys.readouterr().out.startswith("$ echo hello")


def test_sh_raises_with_the_output_unless_check_is_false():
    with pytest.raises(notebook.CommandFailed, match="exited with status 3"):
        notebook.sh("echo oops; exit 3", quiet=True)
    res = notebook.sh("echo oops; exit 3", check=False, quiet=True)
    assert res.returncode == 3 and "oops" in res


def test_sh_times_out_with_advice():
    with pytest.raises(notebook.DockyardError, match="did not finish within 1 s"):
        notebook.sh("sleep 5", timeout=1, quiet=True)


def test_table_renders_html_and_text():
    t = notebook.Table([("a", 1)], ["name", "n"], title="T")
    assert "<caption" in t._repr_html_() and "<code>a</code>" in t._repr_html_()
    assert repr(t).splitlines() == ["T", "name  n", "a     1"]
