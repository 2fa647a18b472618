"""The ``eventhive`` command line."""
