"""image.no_secret reads every layer of a docker save stream: by name, by content, also what a later layer deletes."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from grader.checks.image_leaks import hidden_later, scan_save, secret_values

from .fakes import FakeContext, run_check

SECRETS = "# dev only\nDATABASE_PASSWORD=not-a-real-password\nAPI_TOKEN=dev-token-0000\nDEBUG=1\n"


def layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def save(layers: list[bytes], oci: bool = False) -> tuple[list[bytes], list[str]]:
    """A docker save stream (in 1 KiB chunks) and the layers' diff ids."""
    buf = io.BytesIO()
    ids = ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]
    with tarfile.open(fileobj=buf, mode="w") as t:
        for i, (data, diff) in enumerate(zip(layers, ids)):
            name = f"blobs/sha256/{diff[7:]}" if oci else f"{i:064x}/layer.tar"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        manifest = b'[{"Config": "x.json"}]'
        info = tarfile.TarInfo("blobs/sha256/" + "f" * 64 if oci else "manifest.json")
        info.size = len(manifest)
        t.addfile(info, io.BytesIO(manifest))
    raw = buf.getvalue()
    return [raw[i:i + 1024] for i in range(0, len(raw), 1024)], ids


def test_secret_values_skip_comments_and_short_values():
    assert secret_values(SECRETS) == ["not-a-real-password", "dev-token-0000"]


@pytest.mark.parametrize("oci", [False, True], ids=["classic", "oci"])
def test_scan_finds_a_deleted_file_and_a_renamed_copy(oci):
    base = layer({"usr/bin/python3": b"\x7fELF...", "etc/hostname": b"x"})
    copied = layer({"app/app.py": b"print()", "app/secrets.env": SECRETS.encode(),
                    "etc/hello.conf": b"token=dev-token-0000\n"})
    removed = layer({"app/.wh.secrets.env": b""})
    chunks, ids = save([base, copied, removed], oci)
    found, seen, whiteouts = scan_save(chunks, ["secrets.env"], secret_values(SECRETS))
    assert seen == ids  # the diff ids, hashed while reading: a finding names its layer
    assert {(f["path"], f["why"], f["layer"]) for f in found} == {
        ("/app/secrets.env", "its name and its content", ids[1]), ("/etc/hello.conf", "its content", ids[1])}
    assert whiteouts[ids[2]] == ["/app/secrets.env"]
    by_path = {f["path"]: f for f in found}
    assert hidden_later(by_path["/app/secrets.env"], ids, whiteouts)
    assert not hidden_later(by_path["/etc/hello.conf"], ids, whiteouts)


class SavingContext(FakeContext):
    def __init__(self, chunks, ids, env=(), history=(), **kw):
        super().__init__(images={"hello-web": {"Id": "sha256:" + "a" * 64, "RootFS": {"Layers": ids},
                                               "Config": {"Env": list(env), "Labels": {}}}},
                         histories={"hello-web": list(history)}, **kw)
        self.chunks = chunks

    def save_image(self, ref):
        self._record("save_image", ref)
        return iter(self.chunks)


def test_check_fails_on_a_file_deleted_later_and_passes_a_clean_image(tmp_path):
    (tmp_path / "secrets.env").write_text(SECRETS)
    chunks, ids = save([layer({"app/app.py": b"x"}), layer({"app/secrets.env": SECRETS.encode()}),
                        layer({"app/.wh.secrets.env": b""})])
    o = run_check("image.no_secret", SavingContext(chunks, ids, submission=tmp_path), image="hello-web",
                  name="secrets.env", content_from="secrets.env")
    assert o.reason == "deleted_later" and "/app/secrets.env" in o.message and "layer 2 of 3" in o.message
    assert "dev-token" not in o.message + str(o.evidence)  # the secret itself is never quoted
    chunks, ids = save([layer({"app/app.py": b"x"})])
    o = run_check("image.no_secret", SavingContext(chunks, ids, submission=tmp_path), image="hello-web",
                  name="secrets.env", content_from="secrets.env")
    assert o.passed and "none of the 2 values" in o.message


def test_check_finds_a_value_baked_into_env(tmp_path):
    (tmp_path / "secrets.env").write_text(SECRETS)
    chunks, ids = save([layer({"app/app.py": b"x"})])
    ctx = SavingContext(chunks, ids, env=["API_TOKEN=dev-token-0000"], submission=tmp_path)
    o = run_check("image.no_secret", ctx, image="hello-web", name="secrets.env", content_from="secrets.env")
    assert o.reason == "in_config" and "ENV: API_TOKEN=***" in o.message and "dev-token" not in str(o.evidence)


def test_scan_reads_gzipped_layers_too():
    import gzip

    chunks, _ids = save([gzip.compress(layer({"srv/secrets.env": b"x"}))], oci=True)
    found, seen, _ = scan_save(chunks, ["secrets.env"], [])
    assert [f["path"] for f in found] == ["/srv/secrets.env"] and len(seen) == 1
