"""Writes for insights, one module per concern: pricing, anomalies and incidents, explanations, alerts."""
