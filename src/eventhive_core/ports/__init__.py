"""Ports: the interfaces the service layer needs and adapters provide (protocols only)."""
