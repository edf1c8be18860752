"""Where the orchestrating process's Arrow buffers come from.

A process that runs folders (`ocr-assets run`, a run worker) lives for thousands of them, and
writes Parquet for each: its reports, and the corpus at the end. Arrow's default allocator
(mimalloc in the pyarrow wheels) keeps the memory it freed in its own heaps, so each folder's
few small buffers left the process larger: measured over 1,000 one-page folders, the
orchestrating process's peak was 304 MiB with it and 284 MiB with the system allocator, whose
freed memory the next allocations reuse (docs/benchmarks.md, "Many small folders"). What
`ARROW_DEFAULT_MEMORY_POOL=system` does, as a value passed to Arrow rather than a variable.
"""

from __future__ import annotations


def use_system_arrow_pool() -> None:
    """Make the system allocator Arrow's default pool in this process, for every buffer
    allocated from now on (pandas' Parquet reads and writes included)."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
