"""Celery workers that run the tools against the Kimi and GLM APIs."""
