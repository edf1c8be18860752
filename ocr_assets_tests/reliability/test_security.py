"""Security defaults: no secret in any committed file, and manifest queries that treat names as
data (parameterised), whatever the names hold."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ocr_assets.engine.manifest import DONE, PageOutcome, open_manifest

REPO = Path(__file__).resolve().parents[2]
SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?"
                              r"PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "password in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"{}$]+@"),
    "assigned password": re.compile(
        r"""(?i)\b(?:password|passwd|secret|api_?key|token)\b["']?\s*[:=]\s*["']"""
        r"""(?![{$<]|env\b)[^"'\s]{6,}["']"""),
}
"""Credentials as they leak in practice; `{env: ...}`, `${VAR}` and `<placeholder>` values are
how the project's configuration names secrets without holding them."""
SKIPPED_FILES = {
    # The patterns themselves, and examples they must catch.
    "ocr_assets_tests/reliability/test_security.py",
}
MADE_UP = {
    # file -> made-up credentials it holds on purpose (why, in a word), nothing else allowed.
    "ocr_assets_tests/engine/manifest/test_manifest_postgres.py": {  # redaction of URLs in messages
        "postgresql://u:pw@", "postgresql://ocr:s3cret@", "postgresql://ocr:***@",
        "postgresql://ocr:\\*\\*\\*@", "postgresql://ocr:pw@"},
    "ocr_assets_tests/defs/test_sharded_job.py": {"pyamqp://u:p@"},  # a broker URL, unused
}


def tracked_text_files() -> list[Path]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the committed files cannot be listed")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.split(b"\0")
    files = []
    for name in filter(None, names):
        path = REPO / name.decode("utf-8", "surrogateescape")
        if name.decode(errors="replace") in SKIPPED_FILES or not path.is_file():
            continue
        head = path.read_bytes()[:4096]
        if b"\0" not in head:  # text, not an image or a binary fixture
            files.append(path)
    return files


def test_no_committed_file_holds_a_credential() -> None:
    found = []
    for path in tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        made_up = MADE_UP.get(path.relative_to(REPO).as_posix(), set())
        for what, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                if match.group(0) in made_up:
                    continue
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(REPO)}:{line}: {what}: {match.group(0)[:40]}")
    assert found == [], "credentials in committed files:\n" + "\n".join(found)


@pytest.mark.parametrize("text", [
    "postgresql://ocr:hunter2secret@db.example:5432/ocr",
    'password = "correct-horse-battery"',
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "aws_key = AKIAIOSFODNN7EXAMPLE",
])
def test_the_scan_would_catch_a_leaked_credential(text: str) -> None:
    assert any(p.search(text) for p in SECRET_PATTERNS.values()), text


@pytest.mark.parametrize("text", [
    "postgres_url: {env: OCR_ASSETS_MANIFEST_URL}",
    "postgresql://postgres@127.0.0.1:5432/test",
    "password: {env: PGPASSWORD}",
    'password = "${PGPASSWORD}"',
])
def test_the_scan_accepts_how_the_project_names_secrets(text: str) -> None:
    assert not any(p.search(text) for p in SECRET_PATTERNS.values()), text


HOSTILE_VALUES = ["'; DROP TABLE pages; --", 'x" OR "1"="1', "%s %(x)s ? :1 $1", "a\0b"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_manifest_queries_treat_names_as_data(tmp_path: Path, value: str) -> None:
    manifest = open_manifest(tmp_path / "manifest.sqlite")
    manifest.register_folder(value, value, value.encode())
    manifest.register_folder("other", "other", b"other")
    manifest.sync_pages(value, [value, "plain.png"])
    manifest.sync_pages("other", ["plain.png"])
    assert manifest.claim(value, value, value, lease_s=60)
    manifest.record(value, value, PageOutcome(status=DONE, fingerprint=value, size=1,
                                              mtime_ns=1, ms=1, error_message=value,
                                              output_name=value))

    assert manifest.folder(value).folder_name_raw == value.encode()
    row = manifest.pages(value)[value]
    assert (row.status, row.fingerprint, row.error_message) == (DONE, value, value)
    assert sorted(manifest.pages(value)) == sorted([value, "plain.png"])
    assert list(manifest.pages("other")) == ["plain.png"]  # nothing leaked across folders
    assert manifest.status_counts()[value][DONE] == 1


def test_the_ui_listens_on_loopback_unless_told_otherwise() -> None:
    """What `scripts/ui.sh` hands to `dagster dev`, parsed by dagster's own command line: the
    host is 127.0.0.1, and `--host` overrides it. (`e2e/test_ui.py` starts the real command
    and checks the listening socket in /proc/net/tcp.)"""
    from dagster._cli.dev import dev_command as dagster_dev

    from ocr_assets.ui import dev_command

    def host(extra: list[str]) -> str:
        argv = dev_command(extra)
        return dagster_dev.make_context("dev", argv[argv.index("dev") + 1:]).params["host"]

    assert "ocr_assets.ui" in (REPO / "scripts" / "ui.sh").read_text()
    assert host([]) == "127.0.0.1"
    assert host(["--port", "3001"]) == "127.0.0.1"
    assert host(["--host", "0.0.0.0"]) == "0.0.0.0"
