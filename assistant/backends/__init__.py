"""Backends turn one user message into a stream of normalized events (see assistant/events.py)."""
