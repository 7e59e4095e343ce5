"""The text family's learning code: text checks, TF-IDF and sentence-encoder classifiers, embedding cache, SHAP."""
