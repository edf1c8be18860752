"""The sharded job: folders split into shards that a cluster's hosts read (`jobs.py`)."""
