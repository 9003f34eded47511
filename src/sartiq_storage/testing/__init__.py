"""Helpers for the platform's own tests and benchmarks, importable by both (``bench/`` never
imports ``tests/``):

- ``moto_server``: a moto S3 server process on a free loopback port, its client, store and
  settings (moto is a dev dependency: it runs only in that subprocess, so importing this
  package does not need it);
- ``process_group``: child processes started in their own process group and stopped as a
  group, so a test or a benchmark never leaks a grandchild;
- ``media``: sample images and videos made with the real codecs (pyvips, PyAV).

Nothing inside the layers imports this package (``tests/project/test_architecture.py``).
"""

from sartiq_storage.testing import media, moto_server, process_group

__all__ = ["media", "moto_server", "process_group"]
