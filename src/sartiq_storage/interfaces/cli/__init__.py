"""The sartiq-storage command line."""
