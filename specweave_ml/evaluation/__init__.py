"""Holdout evaluation: predictions saved first, every number computed from them."""
