"""Helpers for indexgate's tests: generated packages and real local index servers."""
