"""The OCR engine: plain Python with no Dagster import, so it can be tested and reused alone.

Its parts, each a subpackage:
- `page`: one page: decode it, read it with an OCR engine (`page.engines`), turn it upright,
  judge its text, and the worker that does all of it in a pool process;
- `folder`: one scan folder: discover its pages, plan and run its batch, the retry pass, the
  counts invariant, the planning of which folders need a run, accuracy and reports;
- `manifest`: the per-page source of truth, SQLite or PostgreSQL, with leases;
- `store`: where outputs live (a directory or an object store), written atomically;
- `corpus`: the corpus across folders, its layout and its full-text search.

Beside them: `settings` (every knob, in one frozen value), `naming` (folder names to partition
keys, page ids to output names), `errors` (failure categories) and `killpoints` (the crash
tests' hooks, no-ops unless a test arms one).

This package imports none of its parts: a command that only reads the manifest (`status`)
loads the manifest alone, not the page machinery.
"""
