"""sartiq-storage: the storage layer of the Sartiq platform.

Layers, imported in one direction only:
``core`` (pure: keys, policies, settings) → ``adapters`` (object stores, database)
→ ``services`` (media, uploads, delivery, lifecycle, compute, datasets)
→ ``interfaces`` (HTTP API, CLI, worker, web page).
"""

__version__ = "0.1.0"
