"""Safe, stable names: folder names to Dagster partition keys, page ids to output file names.

A folder name becomes a partition key, and a page id becomes a file name under the output root,
so both are mapped to a conservative alphabet. A lossless mapping keeps the name as it is;
a lossy one appends a short hash of the original bytes, so two different names never share a
key, and the same name always gets the same key. The original name is stored beside the key
(the manifest's folder table), which makes the mapping reversible.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

MAX_KEY_CHARS = 64
MAX_COMPONENT_BYTES = 180  # leaves room for ".txt"/".json" and temp prefixes under NAME_MAX=255
HASH_CHARS = 10
KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
COMPONENT_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


class UnmappableNameError(ValueError):
    """A folder name that cannot become a partition key (reported, never crashed on)."""


def raw_bytes(name: str) -> bytes:
    """The name's bytes as on disk (names that are not UTF-8 arrive with surrogate escapes)."""
    return os.fsencode(name)


def display_name(name: str) -> str:
    """A printable, storable form of a name; invalid UTF-8 bytes appear as `\\xNN`."""
    return raw_bytes(name).decode("utf-8", "backslashreplace")


def _short_hash(name: str) -> str:
    return hashlib.sha256(raw_bytes(name)).hexdigest()[:HASH_CHARS]


def partition_key_for(folder_name: str) -> str:
    """Map a folder name to a Dagster partition key: ASCII letters, digits, `._-`, at most 64
    characters, no `..`, no comma (a comma breaks failed-partition backfills, dagster#32183),
    not starting with `.` or `-`."""
    if folder_name in ("", ".", ".."):
        raise UnmappableNameError(f"folder name {folder_name!r} cannot be a scan folder")
    text = unicodedata.normalize("NFKD", display_name(folder_name))
    ascii_text = text.encode("ascii", "ignore").decode("ascii")
    slug = KEY_UNSAFE.sub("_", ascii_text)
    while ".." in slug:
        slug = slug.replace("..", "_")
    slug = slug.lstrip(".-_")
    if slug == folder_name and len(slug) <= MAX_KEY_CHARS:
        return slug
    room = MAX_KEY_CHARS - HASH_CHARS - 1
    slug = slug[:room].rstrip(".-_") or "folder"
    return f"{slug}-{_short_hash(folder_name)}"


def output_name_for(page_id: str) -> str:
    """Map a page id (`sub/dir/scan.tif#2`) to one safe file-name component for its outputs."""
    flat = page_id.replace("/", "__")
    clean = COMPONENT_UNSAFE.sub("_", display_name(flat)).lstrip(".-")
    # Unchanged only if nothing was replaced, "/" included: `sub/a.tif` and a file named
    # `sub__a.tif` must not share one output file.
    if clean == page_id and len(clean.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        return clean
    trimmed = clean.encode("utf-8")[:MAX_COMPONENT_BYTES - HASH_CHARS - 1].decode(
        "utf-8", "ignore")
    return f"{trimmed or 'page'}-{_short_hash(page_id)}"
