"""WI-Box controller core: model, store, codes, audit, flows and the composition root."""

__version__ = "0.1.0"
