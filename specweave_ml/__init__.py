"""specweave-ml: a YAML brief in, a reproducible, evaluated and explained ML increment out."""

import os

# LightGBM, XGBoost and scikit-learn each bring an OpenMP runtime; with busy-waiting threads a
# 3 s fit took up to 85 s on two cores. This must be set before any of them is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
