"""Serving a packaged increment: the FastAPI app, its load test, drift monitoring, A/B routing and rollback."""
