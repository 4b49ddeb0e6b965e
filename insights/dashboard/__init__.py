"""Dashboard pages: cost overview, service, pattern and the policy editor."""
