"""The corpus's columns: its Arrow schema (Parquet, JSON Lines keys) and its SQLite tables."""

import pyarrow as pa

ARROW_SCHEMA = pa.schema([
    ("folder", pa.string()), ("partition", pa.string()), ("page", pa.string()),
    ("text", pa.string()), ("mean_confidence", pa.float64()), ("garbage_score", pa.float64()),
    ("flags", pa.string()), ("flag_reason", pa.string()), ("words", pa.int64()),
    ("chars", pa.int64()), ("engine", pa.string()), ("engine_version", pa.string()),
    ("settings", pa.string()), ("fingerprint", pa.string())])
"""The corpus's columns with their types, the same in every build. `settings` is the JSON of
the settings that produced the text (language, psm, engine, orientation detection), from the
page's facts file."""
CORPUS_COLUMNS = tuple(ARROW_SCHEMA.names)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    id INTEGER PRIMARY KEY,
    folder TEXT NOT NULL, partition TEXT NOT NULL, page TEXT NOT NULL, text TEXT NOT NULL,
    mean_confidence REAL, garbage_score REAL, flags TEXT, flag_reason TEXT, words INTEGER,
    chars INTEGER, engine TEXT, engine_version TEXT, settings TEXT, fingerprint TEXT,
    UNIQUE (partition, page)
);
CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(
    text, content='pages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS pages_ai AFTER INSERT ON pages BEGIN
    INSERT INTO pages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS pages_ad AFTER DELETE ON pages BEGIN
    INSERT INTO pages_fts (pages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""
"""The documented FTS5 external-content pattern: the index follows the table by triggers."""
