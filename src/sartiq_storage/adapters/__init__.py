"""Adapters: the outside world (object stores, the database) behind small interfaces."""
