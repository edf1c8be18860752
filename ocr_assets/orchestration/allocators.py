"""Where Arrow's buffers come from in the processes that run folders and build the corpus.

A process that runs folders (`ocr-assets run`, a run worker) lives for thousands of them, and
writes Parquet for each: its reports, and the corpus at the end. Arrow's default allocator
(mimalloc in the pyarrow wheels) keeps the memory it freed in its own heaps, one per thread, so
each folder's buffers and the corpus's left the process larger; the system allocator's freed
memory is reused by the next allocations (docs/benchmarks.md, "Many small folders").

Arrow has two defaults, and only one can be set from Python:
- pyarrow's own (conversions, Parquet writers and readers opened from Python):
  `use_system_arrow_pool`, a value passed to Arrow, called by `load_definitions`;
- the C++ library's (what its Parquet encoders, decoders and compute kernels allocate on their
  own), which Arrow reads once from `ARROW_DEFAULT_MEMORY_POOL` in the environment the process
  started with. So the processes the project starts get it in the environment they are started
  with (`with_allocators`): the `ocr-assets` command (re-executed once by its entry point,
  `cli/main.py`), `dagster dev` and everything it starts (`ui.py`), the container image. A value
  the user set is kept.
"""

from __future__ import annotations

from collections.abc import Mapping

ALLOCATOR_ENVIRONMENT = {"ARROW_DEFAULT_MEMORY_POOL": "system"}
"""What the project's processes are started with, unless their environment says otherwise."""


def with_allocators(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with `ALLOCATOR_ENVIRONMENT` added where it names no allocator of its own."""
    return {**ALLOCATOR_ENVIRONMENT, **environ}


def use_system_arrow_pool() -> None:
    """Make the system allocator pyarrow's default pool in this process, for every buffer
    allocated from Python from now on (pandas' Parquet reads and writes included)."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
