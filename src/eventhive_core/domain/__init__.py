"""The pure domain: entities, rules, commands, events and errors (standard library only)."""
