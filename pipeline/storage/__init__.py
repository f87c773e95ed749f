"""Storage: the one filesystem layer (local paths and URIs), the layout, and partitions."""
