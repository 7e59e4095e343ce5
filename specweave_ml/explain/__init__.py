"""SHAP explanations of the chosen model."""
