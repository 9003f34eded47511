"""``python -m sartiq_storage.interfaces.cli``."""

from sartiq_storage.interfaces.cli.app import main

main()
