"""Event contracts: the versioned pydantic envelope and one payload model per event type and version."""
