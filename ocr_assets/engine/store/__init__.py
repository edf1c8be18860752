"""Where outputs live: a directory or an object store, every write atomic."""
