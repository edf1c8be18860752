"""One scan folder: its pages, its plan and batch, the retry pass, the counts invariant,
which folders need a run (planning), accuracy and its ground truth, duplicate scans, reports,
and forgetting it."""
