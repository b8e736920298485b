"""Storage: the model registry, atomic writes, the database of collected drawings."""
