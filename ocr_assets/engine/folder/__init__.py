"""One scan folder: its pages, its plan and batch, the retry pass, the counts invariant,
which folders need a run (planning), accuracy, reports, and forgetting it."""
