"""Where a folder's ground truth is, and the signature of it that says when it changed.

Ground truth of a page is a `<stem>.gt.txt` beside it, or the same relative path under a
parallel root (`<gt_root>/<folder name>/...`, see `accuracy`). Ground truth often arrives after
its folder was read (a team transcribes a sample of the pages later): the signature of the
ground-truth files (names, sizes, modification times) is stored when the folder's accuracy
report is written, and the planning compares it with the files on disk, so the next run writes
the report, reading no page again. Light on purpose (no pandas, no jiwer): the sensor's
planning asks it for every folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ocr_assets.engine.folder.registry import folder_signatures

GROUND_TRUTH_SUFFIX = ".gt.txt"


def ground_truth_signature(folder: Path, folder_name: str, gt_root: Path | None, *,
                           beside: str | None = None, beside_known: bool = False) -> str | None:
    """A digest of the folder's ground-truth files, beside its pages and under `gt_root`;
    None when it has none. `beside` is the digest of those beside the pages when the caller
    walked the folder already (`folder_signatures(..., GROUND_TRUTH_SUFFIX)`: `beside_known`)."""
    suffix = GROUND_TRUTH_SUFFIX.encode()
    if not beside_known:
        beside = folder_signatures(folder, suffix).selected
    under_root = None
    if gt_root is not None and (gt_root / folder_name).is_dir():
        under_root = folder_signatures(gt_root / folder_name, suffix).selected
    if beside is None and under_root is None:
        return None
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"beside:{beside or ''}\nunder root:{under_root or ''}\n".encode())
    return digest.hexdigest()
