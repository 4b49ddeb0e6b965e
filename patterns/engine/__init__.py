"""Django-free pattern mining, log-format parsing, rate-anomaly detection and PII redaction."""
