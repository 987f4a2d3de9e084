"""The HTTP API and the operators' dashboard."""
