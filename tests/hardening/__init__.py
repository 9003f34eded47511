"""Hardening: keys, redirects, served content and the API under hostile input.

See docs/reliability.md.
"""
