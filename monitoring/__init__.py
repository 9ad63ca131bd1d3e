"""Health, metrics and the dashboard, built from queue and worker state in Redis (see issue tracker)."""
