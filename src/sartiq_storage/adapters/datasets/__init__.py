"""Adapters of the versioned-dataset engine: the metadata KV store."""
