"""The output store: one interface for page outputs, reports and the corpus, local or not.

Both backends are run through the same contract; the fsspec one through fsspec's own local
filesystem (it shares files across the spawned pool workers, as an object store would), its
in-memory filesystem (no directory at all behind the keys), and, where s3fs and moto are
installed, a real S3 API (moto's server on loopback): see the `s3_url` fixture.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.corpus.build import build_corpus, read_corpus
from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.project import Project
from ocr_assets.engine.store.outputs import (
    FsspecStore,
    LocalStore,
    OutputStore,
    open_store,
    read_json,
    read_text,
    write_json,
    write_text,
)


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    """An S3 bucket on a moto server on loopback: the object-store backend over the real S3
    protocol (s3fs, botocore; both in the `test` extra)."""
    import boto3
    import s3fs  # noqa: F401 - the filesystem fsspec needs for s3://
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in S3_ENVIRONMENT}
    # Set in os.environ, not per test: spawned pool workers inherit it.
    os.environ.update({**S3_ENVIRONMENT, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    try:
        boto3.client("s3").create_bucket(Bucket="ocr-assets-test")
        yield "s3://ocr-assets-test"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


S3_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                  "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": ""}


@pytest.fixture(params=["local", "fsspec-file", "fsspec-memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> OutputStore:
    if request.param == "local":
        return LocalStore(tmp_path / "out")
    if request.param == "fsspec-file":
        return FsspecStore(f"local://{tmp_path}/out")
    if request.param == "s3":
        return FsspecStore(f"{request.getfixturevalue('s3_url')}/{tmp_path.name}")
    return FsspecStore(f"memory://ocr-assets-test-{tmp_path.name}")


def test_the_store_contract(store: OutputStore) -> None:
    pages = store.child("box-001")
    write_text(pages, "page_1.tif.txt", "Grüße\n")
    write_text(pages, "page_1.tif.txt", "second version\n")
    write_json(pages, "page_1.tif.json", {"z": 1, "a": "Übung"})

    assert read_text(store, "box-001/page_1.tif.txt") == "second version\n"
    assert read_json(pages, "page_1.tif.json") == {"a": "Übung", "z": 1}
    assert pages.exists("page_1.tif.txt")
    assert not pages.exists("page_2.tif.txt")
    with pytest.raises(FileNotFoundError):
        pages.read_bytes("page_2.tif.txt")
    pages.delete("page_1.tif.txt")
    pages.delete("page_1.tif.txt")
    assert not pages.exists("page_1.tif.txt")
    assert pages.uri("page_1.tif.json").endswith("box-001/page_1.tif.json")


def test_files_go_in_and_come_out_as_streams(store: OutputStore, tmp_path: Path) -> None:
    """The corpus's files are put from disk and read as file objects, never whole in memory."""
    source = tmp_path / "local.bin"
    content = bytes(range(256)) * 5000  # more than one copy block
    source.write_bytes(content)
    store.put_file("corpus/pages.bin", source)
    store.put_file("corpus/pages.bin", source)  # replaced, not appended to

    with store.open_read("corpus/pages.bin") as read:
        assert read.read(256) == bytes(range(256))
        read.seek(len(content) - 3)
        assert read.read() == content[-3:]
    assert store.read_bytes("corpus/pages.bin") == content
    with pytest.raises(FileNotFoundError):
        store.open_read("corpus/missing.bin")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../escape.txt", "a/../../b", "a//b",
                                 "./a", "a\\b", "a\0b"])
def test_keys_never_leave_the_store(store: OutputStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a relative path inside the output store"):
        store.write_bytes(key, b"x")


def test_a_local_store_leaves_no_temp_files_and_cleans_a_killed_writers(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("page.txt", b"text")
    (tmp_path / ".page.txt.abc123.tmp").write_bytes(b"half")

    assert store.remove_partial_writes() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.txt"]


def test_locations_pick_their_backend(tmp_path: Path) -> None:
    assert open_store(tmp_path) == LocalStore(tmp_path)
    assert open_store(str(tmp_path)) == LocalStore(tmp_path)
    assert open_store(f"file://{tmp_path}") == LocalStore(tmp_path)
    assert open_store("s3://bucket/ocr") == FsspecStore("s3://bucket/ocr")
    store = FsspecStore("memory://x")
    assert open_store(store) is store
    assert pickle.loads(pickle.dumps(store.child("p"))) == FsspecStore("memory://x/p")


@pytest.mark.parametrize("backend", ["fsspec-file", "s3"])
def test_a_folder_ocred_into_a_non_local_store_counts_and_builds_its_corpus(
        backend: str, request: pytest.FixtureRequest, tmp_path: Path,
        fixtures_dir: Path) -> None:
    """The whole engine path through the fsspec backend: pool workers write the pages, the
    invariant and the corpus read them back, and nothing lands in a local output directory."""
    folder = tmp_path / "scans" / "box"
    folder.mkdir(parents=True)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", folder / "page_1.tif")
    output_url = (f"local://{tmp_path}/bucket" if backend == "fsspec-file"
                  else f"{request.getfixturevalue('s3_url')}/{tmp_path.name}")
    project = Project(ProjectConfig(data_root=str(tmp_path / "data"), output_url=output_url,
                                    scans_root=str(tmp_path / "scans"), workers=1))
    outputs = project.outputs
    assert isinstance(outputs, FsspecStore)
    project.register(project.scan())

    report = process_folder(project.folder("box"))
    summary = build_corpus(project)

    assert (report.done, report.failed) == (1, 0)
    assert check_counts(project.folder("box")).passed
    assert "quick brown dog" in read_text(outputs, "ocr/box/" + output_keys("page_1.tif")[0])
    corpus = read_corpus(outputs.child("corpus"))
    assert list(corpus["page"]) == ["page_1.tif"]
    assert summary.parquet == outputs.uri("corpus/pages.parquet")
    assert not [p.name for p in (tmp_path / "data").iterdir()
                if not p.name.startswith("manifest.sqlite")], "outputs landed in the data root"
    project.close()
