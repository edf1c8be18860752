"""Fixtures for every test: the shipped fixtures, and the shared test set when it is there.

The shared test set (`../shared/testdata` beside the repository, or `$OCR_ASSETS_TESTDATA`) is
large and not shipped: tests that need it skip, with the reason, when it is absent, unless
`OCR_ASSETS_REQUIRE_TESTDATA=1` (set by CI), in which case they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocr_assets_tests.helpers import FIXTURES

DEFAULT_TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


def testdata_location() -> Path:
    override = os.environ.get("OCR_ASSETS_TESTDATA")
    return Path(override).expanduser() if override else DEFAULT_TESTDATA


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """The shared test set's root (with `pages/` and `bad/`)."""
    location = testdata_location()
    if (location / "pages").is_dir() and (location / "bad").is_dir():
        return location
    reason = (f"shared test set not found at {location} (expected pages/ and bad/ in it); "
              "set OCR_ASSETS_TESTDATA to its location")
    if os.environ.get("OCR_ASSETS_REQUIRE_TESTDATA") == "1":
        pytest.fail(f"{reason}; OCR_ASSETS_REQUIRE_TESTDATA=1 makes this a failure")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """`ocr_assets_tests/fixtures`: `pages/` (pages with `.gt.txt`) and `odd/` (broken and
    odd inputs), shipped with the repository."""
    return FIXTURES
