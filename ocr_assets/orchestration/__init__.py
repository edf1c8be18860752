"""What the Dagster definitions share, and no definition itself: the project resource, the
partitions, concurrency, run state, metadata and the embedded instance. `ocr_assets.defs`
holds the definitions and is loaded as a folder; keeping these helpers outside it means the
loader never meets the same object twice."""
