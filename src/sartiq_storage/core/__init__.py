"""Pure code: no I/O. Keys, validation, settings, URL resolution."""
