"""Plugins: pluggy hook specifications, the per-Hive plugin manager and name registries."""
