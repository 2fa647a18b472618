"""The service layer: command handlers, the message bus, the outbox relay and queries."""
