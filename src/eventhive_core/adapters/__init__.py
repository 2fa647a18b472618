"""Adapters: implementations of the ports (storage, buses, schedulers, payments, auth)."""
