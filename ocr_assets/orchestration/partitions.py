"""One dynamic partition per scan folder; keys come from `engine.naming.partition_key_for`."""

import dagster as dg

scan_folders = dg.DynamicPartitionsDefinition(name="scan_folders")
