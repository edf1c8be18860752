"""Dagster definitions only: they decide when and where the engine runs and report what it did."""
