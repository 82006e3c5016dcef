"""Offer extraction: find and structure offers of CNIC, SIM, call-log and travel records.

``extract(text)`` classifies a post (offer / request / other), names the data
categories and pulls out identifiers, prices, contacts and the claimed volume,
as defined in the corpus label schema.  ``find_identifiers(text)`` returns the
identifiers alone, with the same validation.  Rules and lexicons only; every
decision can be explained with ``extract(text, explain=True)``.
"""
from .engine import extract, find_identifiers
from .model import Cue, Extraction, Found, Price

__all__ = ["Cue", "Extraction", "Found", "Price", "extract", "find_identifiers"]
