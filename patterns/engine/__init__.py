"""Django-free pattern mining, log-format parsing and rate-anomaly detection."""
