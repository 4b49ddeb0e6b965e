"""What LipService installs into PostHog: the Hog transformation, drop rules, the app manifest and UI bundle."""
