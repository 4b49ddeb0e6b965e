"""Django-free policy engine: schema, safety checker, rule and LLM generators, and the simulator."""
