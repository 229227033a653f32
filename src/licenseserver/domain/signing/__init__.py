"""Signing keys, signed answers and offline license files (docs/signatures.md)."""
