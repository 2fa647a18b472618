"""Test support for EventHive and its plugins: fakes and reusable port contract suites."""
