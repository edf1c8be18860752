"""Input fingerprints: a changed scan is redone, an unchanged one skipped.

The fingerprint is the SHA-256 of the file's bytes. Hashing every page on every run would make
a re-run of 10,000 done pages slow, so the manifest also keeps (size, mtime_ns): when both are
unchanged the stored fingerprint is trusted; when either moved, the file is hashed again and a
page whose bytes did not change (a copy, a `touch`) is still skipped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
