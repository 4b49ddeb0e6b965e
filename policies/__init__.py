"""Policies: per-pattern sampling policies, their versions, audit and distribution."""
