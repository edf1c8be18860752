"""`ocr-assets`: the headless way in, through the same Dagster assets and the same instance.

`run` executes one Dagster run per folder that needs one *in process* against the persistent
instance (no daemon needed; the UI shows these runs later), then rebuilds the corpus.
`retry-failed` does the same for exactly the partitions whose last run failed or that have
failed pages, and `forget` deletes the partitions of removed folders with their outputs.
`status` reads the manifest only, and `search` the corpus's index: neither imports Dagster, so
both answer at once, also while runs are going.

`main` (in `main.py`) parses the command line; `options` turns flags into the project's
configuration; `reading` holds the commands that only read, `commands` those that run, with
`runs` executing Dagster runs in process and `progress` drawing their bar.
"""
