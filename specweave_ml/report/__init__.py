"""What a reviewer reads: the readiness checklist, the increment report and the living-docs index."""
