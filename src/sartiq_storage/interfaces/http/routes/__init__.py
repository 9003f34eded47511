"""Route groups, one module each."""
