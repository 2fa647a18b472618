"""The pure domain: entities, rules, commands, events, errors and read models (standard library only)."""
