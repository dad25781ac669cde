"""Helpers for tests and plugin authors: small hand-written hospitals."""
