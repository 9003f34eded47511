"""Interfaces: the HTTP API, the CLI, the worker and the web console."""
