"""Patterns: services, mined log patterns, per-window counts and analysis runs."""
