"""Stockade: defence-in-depth security analysis for multi-tenant ML platforms on Kubernetes."""

__version__ = "0.1.0"
