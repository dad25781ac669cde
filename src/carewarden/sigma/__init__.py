"""Sigma: rules in SigmaHQ layout loaded with pySigma, compiled to DuckDB SQL by our own
backend, routed by log source and evaluated over Windows events in batches."""
