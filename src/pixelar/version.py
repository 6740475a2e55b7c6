"""The package version (one place; the checkpoint format records it)."""
__version__ = "0.1.0"
