"""The names of the corpus's files in its store, shared by the builder (`corpus`), the search
(`search`) and the command line. A module of their own so that finding the corpus does not
import pandas, which building it needs."""

PARQUET_KEY, JSONL_KEY, SQLITE_KEY, STATE_KEY = (
    "pages.parquet", "pages.jsonl", "pages.sqlite", "state.jsonl")
LEGACY_STATE_KEY = "state.json"
"""Where versions 1 and 2 of the build kept their state (one JSON object): read only to find
version 1's parts, deleted by the first newer build."""
PARTS_PREFIX = "parts"
"""Where version 1 of the build kept each included folder's rows (`parts/<partition>.parquet`):
deleted by the first newer build."""
