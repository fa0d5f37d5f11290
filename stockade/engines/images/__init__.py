"""Container image references: parsing and normalisation as the container runtimes do it."""

from stockade.engines.images.reference import ImageRef, InvalidReference, parse_reference

__all__ = ["ImageRef", "InvalidReference", "parse_reference"]
