"""The distribution's version, read by hatchling and by ``eventhive --version``."""

__version__ = "0.1.0"
