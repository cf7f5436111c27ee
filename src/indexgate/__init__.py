"""indexgate: a CI resolution gate for private Python package indexes."""

__version__ = "0.1.0"
