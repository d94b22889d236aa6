"""Ingestion: request bodies in three dialects -> Beacon's event model -> durable buffer -> store."""
