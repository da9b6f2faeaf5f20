"""mlmeta: a Linked Data knowledge graph of machine-learning model zoos."""

__version__ = "0.1.0"

__all__ = ["__version__"]
