"""One router per resource, each handler a few lines over a query module."""
