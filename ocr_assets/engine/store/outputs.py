"""Where outputs live: page texts and facts, failed-pages reports and the corpus, behind one
interface.

Every output is written and read through an `OutputStore` under relative, `/`-separated keys
(`<partition>/<page>.txt`, `pages.parquet`), so the engine never builds a filesystem path of
its own. The local directory (`LocalStore`) is the default; a shared filesystem is the same
`LocalStore` on a mount that every node sees, and an object store is an `FsspecStore`
(`s3://bucket/prefix` with s3fs installed, `gs://` with gcsfs, ...). In every backend a write
is atomic: a reader sees the old object or the whole new one, never a part.

Stores are plain picklable values, so a pool worker receives the store it writes to.
"""

from __future__ import annotations

import contextlib
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol

from ocr_assets.engine.store.atomic import (
    json_bytes,
    remove_stale_temp_files,
    write_bytes_atomic,
    write_file_atomic,
)


class OutputStore(Protocol):
    """What the engine needs from a place to keep outputs."""

    def child(self, prefix: str) -> OutputStore:
        """The store of the keys under `prefix` (e.g. one partition's outputs)."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write atomically: readers see the previous content or all of `data`."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The content; `FileNotFoundError` when there is none."""
        ...

    def put_file(self, key: str, source: Path) -> None:
        """Write the content of the local file `source` atomically, without holding it in
        memory (the corpus's files grow with the corpus)."""
        ...

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """The content as a seekable binary file, read as the reader goes; `FileNotFoundError`
        when there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the key; a key that is already gone is fine."""
        ...

    def remove_partial_writes(self) -> int:
        """Delete what a killed writer left behind directly under this store; return how many."""
        ...

    def uri(self, key: str = "") -> str:
        """Where a person or a tool finds the key (a local path, or a URL)."""
        ...


def check_key(key: str) -> str:
    """`key` if it is a relative `/`-separated key that stays inside its store, else a
    ValueError: an output is never written outside the output root."""
    parts = key.split("/")
    if (not key or key.startswith("/") or "\\" in key or "\0" in key
            or any(part in ("", ".", "..") for part in parts)):
        raise ValueError(f"output key {key!r} is not a relative path inside the output store "
                         "(empty, absolute, or with '.', '..' or empty parts)")
    return key


@dataclass(frozen=True)
class LocalStore:
    """Outputs as files under a directory: the default, and the shared-filesystem backend."""

    root: Path

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def child(self, prefix: str) -> LocalStore:
        return LocalStore(self.path(prefix))

    def write_bytes(self, key: str, data: bytes) -> None:
        write_bytes_atomic(self.path(key), data)

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def put_file(self, key: str, source: Path) -> None:
        write_file_atomic(self.path(key), source)

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def remove_partial_writes(self) -> int:
        return remove_stale_temp_files(self.root)

    def uri(self, key: str = "") -> str:
        return str(self.path(key) if key else self.root)


@dataclass(frozen=True)
class FsspecStore:
    """Outputs as objects in any filesystem fsspec knows (`s3://`, `gs://`, `az://`, ...).

    Object stores replace an object in one PUT, so a write is atomic there without a temp
    file; nothing partial is left by a killed writer, so `remove_partial_writes` has nothing to
    do. The filesystem is created from the URL in each process that uses the store.
    """

    url: str
    storage_options: tuple[tuple[str, str], ...] = ()

    def _fs(self) -> tuple[Any, str]:
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.url, **dict(self.storage_options))
        return fs, root

    def _path(self, key: str) -> tuple[Any, str]:
        fs, root = self._fs()
        return fs, f"{root.rstrip('/')}/{check_key(key)}"

    def child(self, prefix: str) -> FsspecStore:
        return FsspecStore(f"{self.url.rstrip('/')}/{check_key(prefix)}", self.storage_options)

    def write_bytes(self, key: str, data: bytes) -> None:
        fs, path = self._path(key)
        fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        fs.pipe_file(path, data)

    def read_bytes(self, key: str) -> bytes:
        fs, path = self._path(key)
        try:
            return fs.cat_file(path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{self.uri(key)} does not exist") from exc

    def put_file(self, key: str, source: Path) -> None:
        fs, path = self._path(key)
        fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        fs.put_file(str(source), path)

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        fs, path = self._path(key)
        if not fs.isfile(path):
            raise FileNotFoundError(f"{self.uri(key)} does not exist")
        return fs.open(path, "rb")

    def exists(self, key: str) -> bool:
        fs, path = self._path(key)
        return fs.isfile(path)

    def delete(self, key: str) -> None:
        fs, path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(path)

    def remove_partial_writes(self) -> int:
        return 0

    def uri(self, key: str = "") -> str:
        return f"{self.url.rstrip('/')}/{check_key(key)}" if key else self.url


def open_store(location: str | Path | OutputStore) -> OutputStore:
    """The store at `location`: a directory path or `file://` URL (a `LocalStore`), any other
    URL (an `FsspecStore`), or a store, returned as it is."""
    if not isinstance(location, str | Path):
        return location
    text = str(location)
    if "://" not in text:
        return LocalStore(Path(text))
    if text.startswith("file://"):
        return LocalStore(Path(text.removeprefix("file://")))
    return FsspecStore(text)


def write_text(store: OutputStore, key: str, text: str) -> None:
    store.write_bytes(key, text.encode("utf-8"))


def read_text(store: OutputStore, key: str) -> str:
    return store.read_bytes(key).decode("utf-8")


def write_json(store: OutputStore, key: str, value: object) -> None:
    store.write_bytes(key, json_bytes(value))


def read_json(store: OutputStore, key: str) -> object:
    return json.loads(store.read_bytes(key))
