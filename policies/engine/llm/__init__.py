"""LLM-written policies: providers behind one interface, PII-redacted prompts, and a rule-based fallback."""
