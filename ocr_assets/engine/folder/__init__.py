"""One scan folder: its pages, its plan and batch, the retry pass, the counts invariant,
reconciliation, accuracy, reports, and forgetting it."""
