"""The corpus across folders: its build, its layout on the store, and full-text search."""
