"""Insights: cost, projections, anomalies and alerts."""
