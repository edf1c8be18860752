"""The corpus across folders, its check and its job."""
