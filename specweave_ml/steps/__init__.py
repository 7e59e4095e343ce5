"""The stages' wiring: read inputs through ``Context``, call the pure steps, write files, update docs."""
