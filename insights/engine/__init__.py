"""Django-free insights code: pricing, cost allocation, projections, recommendations, explanations, alert grouping."""
