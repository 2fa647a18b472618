"""Built-in plugins: EventHive's own adapters, registered through the same hooks as third-party ones."""
