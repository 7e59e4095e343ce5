"""specweave-ml: a YAML brief in, a reproducible, evaluated and explained ML increment out."""

import os

# LightGBM, XGBoost and scikit-learn each bring an OpenMP runtime; with busy-waiting threads a
# 3 s fit took up to 85 s on two cores. This must be set before any of them is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Arrow's default pool (mimalloc) keeps what a Parquet read freed: reading 10M rows x 31 columns peaked at 7.4 GiB
# and held 6.7 GiB after, against 4.8 and 4.4 GiB with the system allocator (benchmarks/scale.py: fetch's peak
# 7.3 -> 5.3 GiB, prepare's 11.9 -> 10.6 GiB). Set before pyarrow loads; a user's own setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

__version__ = "0.1.0"
