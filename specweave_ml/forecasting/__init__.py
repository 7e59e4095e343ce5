"""Forecasting: one series checked and made regular, baselines and candidate forecasters, expanding-window
backtests that never look ahead, forecast metrics and intervals. Pure: no file is written, no config read."""
