"""Loaders: every source parses into canonical batches that one engine validates and COPYs."""
