"""Services: the storage layer's use cases, built on the core and the adapters."""
