"""The explicit model registry: the only estimators a config can ask for."""
