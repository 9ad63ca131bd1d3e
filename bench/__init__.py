"""Benchmarks of the real stack (gateway, Redis, workers, emulator) against raw Celery.

Runs from a source checkout: it starts the stack with the test suite's process helpers.
"""
