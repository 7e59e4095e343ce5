"""Recommendations: interactions checked and split without look-ahead, recommenders, full-catalogue ranking metrics."""
