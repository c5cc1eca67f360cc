"""The version of skal (one place; ``skal.__version__`` re-exports it)."""

__version__ = "0.1.0"
