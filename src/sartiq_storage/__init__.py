"""sartiq-storage: the storage layer of the Sartiq platform.

The public surface, what the Backend and the Compute Server import (each module lists its
names in ``__all__``; anything reached another way may change without notice):

- ``sartiq_storage.config``: settings (``load_settings``), the wiring (``build_context``,
  ``StorageContext``), the database and its migrations (``Database``, ``upgrade``);
- ``sartiq_storage.media``: ``MediaResourceService`` and its inputs and results, uploads,
  compute results, key builders and parsers, URL resolution, the errors to catch;
- ``sartiq_storage.stores``: the ``ObjectStore`` protocol, its backends, ``open_store``;
- ``sartiq_storage.datasets``: versioned datasets with lakeFS semantics (``open_engine``);
- ``sartiq_storage.api``: the HTTP app factory (``create_app``), to serve or to mount in a
  host application under the host's own authentication (``docs/embedding.md``).
- ``sartiq_storage.testing``: helpers for our own tests and benchmarks (a moto S3 server,
  process groups that never leak children, sample images and videos); not for the platform.

These modules are the outermost layer: they may import any other, and nothing inside the
layers imports them. The layers, imported in one direction only:
``core`` (pure: keys, policies, settings) → ``adapters`` (object stores, database)
→ ``services`` (media, uploads, delivery, lifecycle, compute, datasets)
→ ``interfaces`` (HTTP API, CLI, worker, web page).
This file imports none of them, so ``import sartiq_storage`` stays cheap.
"""

__version__ = "0.1.0"
