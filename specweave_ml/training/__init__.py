"""Training: leakage-safe pipelines, baselines, cross-validation and the choice of a model."""
