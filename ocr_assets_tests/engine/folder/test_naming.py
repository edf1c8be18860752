"""Folder names to partition keys and page ids to output file names: safe, stable, distinct."""

from __future__ import annotations

import os
import re
import unicodedata

import pytest

from ocr_assets.engine.naming import (
    MAX_COMPONENT_BYTES,
    MAX_KEY_CHARS,
    UnmappableNameError,
    output_name_for,
    partition_key_for,
)

KEY_ALPHABET = re.compile(r"[A-Za-z0-9._-]+")
E_ACUTE_NFC = unicodedata.normalize("NFC", "Caf\u00e9")
E_ACUTE_NFD = unicodedata.normalize("NFD", "Caf\u00e9")

AWKWARD_NAMES = [
    "box, 2", "box,2", "box 2", "box  2", "box_2", "...", "a..b", "a...b", ".hidden",
    "tab\there", "bell\x07", "new\nline", "carriage\rreturn", 'say "cheese"', "it's",
    "-leading-dash", "--", "_underscore", "slash\\back", "[1815]", "box*", "50%", "ümlaut",
    "日本語の本", "emoji 📦", os.fsdecode(b"\xff\xfe"), os.fsdecode(b"latin1-caf\xe9"),
    E_ACUTE_NFC, E_ACUTE_NFD, "x" * 64, "x" * 65, "y" * 300, "z" * 200 + ", long",
]


@pytest.mark.parametrize("name", ["box-001", "volume_1815", "Kant.Aufklaerung.1784", "A", "0",
                                  "x" * MAX_KEY_CHARS])
def test_plain_names_are_their_own_key(name: str) -> None:
    assert partition_key_for(name) == name


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_every_key_is_safe_for_dagster_and_the_file_system(name: str) -> None:
    key = partition_key_for(name)

    assert KEY_ALPHABET.fullmatch(key), key
    assert len(key) <= MAX_KEY_CHARS
    assert ".." not in key
    assert "," not in key
    assert not key.startswith((".", "-"))
    assert partition_key_for(name) == key  # stable: the same name, the same key


def test_awkward_names_get_distinct_keys() -> None:
    keys = {name: partition_key_for(name) for name in AWKWARD_NAMES}
    assert len(set(keys.values())) == len(AWKWARD_NAMES), keys


def test_a_changed_name_keeps_a_readable_prefix_and_a_hash() -> None:
    assert re.fullmatch(r"box_2-[0-9a-f]{10}", partition_key_for("box, 2"))
    assert re.fullmatch(r"leading-dash-[0-9a-f]{10}", partition_key_for("-leading-dash"))
    assert re.fullmatch(r"folder-[0-9a-f]{10}", partition_key_for("..."))
    assert re.fullmatch(r"folder-[0-9a-f]{10}", partition_key_for("日本語の本"))


def test_nfc_and_nfd_spellings_are_different_folders_with_different_keys() -> None:
    assert E_ACUTE_NFC != E_ACUTE_NFD
    nfc, nfd = partition_key_for(E_ACUTE_NFC), partition_key_for(E_ACUTE_NFD)
    assert nfc != nfd
    assert nfc.startswith("Cafe-") and nfd.startswith("Cafe-")


def test_non_utf8_bytes_give_a_key_and_the_key_depends_on_the_bytes() -> None:
    ff_fe, fe_ff = os.fsdecode(b"\xff\xfe"), os.fsdecode(b"\xfe\xff")
    assert KEY_ALPHABET.fullmatch(partition_key_for(ff_fe))
    assert partition_key_for(ff_fe) != partition_key_for(fe_ff)


def test_long_names_are_cut_to_64_characters_and_stay_distinct() -> None:
    first, second = "a" * 100 + "1", "a" * 100 + "2"
    assert len(partition_key_for(first)) == MAX_KEY_CHARS
    assert partition_key_for(first) != partition_key_for(second)
    assert len(partition_key_for("x" * (MAX_KEY_CHARS + 1))) == MAX_KEY_CHARS


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_names_that_are_not_folders_are_refused(name: str) -> None:
    with pytest.raises(UnmappableNameError):
        partition_key_for(name)


PAGE_IDS = [
    "page_1.tif", "scan.tif#2", "scan.tif#12", "sub/dir/page.png", "sub/dir/scan.tif#3",
    "sub__dir__page.png", "-dash.png", ".dot.png", "new\nline.png", "back\\slash.png",
    os.fsdecode(b"caf\xe9.tif"), "café.tif", "p" * 300 + ".tif", "p" * 300 + ".tif#2",
    "d/" * 100 + "page.tif",
]


@pytest.mark.parametrize("page_id", PAGE_IDS)
def test_output_names_are_one_safe_bounded_file_name(page_id: str) -> None:
    name = output_name_for(page_id)

    assert "/" not in name and "\\" not in name and "\0" not in name
    assert not any(ord(ch) < 32 for ch in name)
    assert not name.startswith((".", "-"))
    assert len(name.encode("utf-8")) <= MAX_COMPONENT_BYTES
    name.encode("utf-8")  # no lone surrogates: storable and printable
    assert output_name_for(page_id) == name


def test_plain_page_ids_and_frames_keep_their_name() -> None:
    assert output_name_for("page_1.tif") == "page_1.tif"
    assert output_name_for("scan.tif#2") == "scan.tif#2"
    assert output_name_for("café.tif") == "café.tif"


def test_output_names_are_distinct_for_distinct_page_ids() -> None:
    names = {page_id: output_name_for(page_id) for page_id in PAGE_IDS}
    assert len(set(names.values())) == len(PAGE_IDS), names


def test_a_page_in_a_subfolder_and_a_file_named_like_its_flattened_path_do_not_collide() -> None:
    assert output_name_for("sub/page.png") != output_name_for("sub__page.png")


def test_a_page_in_a_subfolder_keeps_a_readable_name_with_a_hash() -> None:
    assert re.fullmatch(r"sub__dir__scan\.tif#3-[0-9a-f]{10}",
                        output_name_for("sub/dir/scan.tif#3"))
