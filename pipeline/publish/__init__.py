"""Publish: the day's tables through the storage layer, and the run report."""
