"""Contracts shared by the gateway, the workers and monitoring.

Nothing here imports ``gateway``, ``workers`` or ``monitoring``: the three processes agree through
these names, payloads, errors and settings only.
"""
