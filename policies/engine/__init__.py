"""Django-free policy engine: schema, safety checker, rule and LLM generators, PII redaction and the simulator."""
