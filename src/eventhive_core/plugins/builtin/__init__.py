"""Built-in plugins that are not an adapter module of their own.

The adapters that need nothing beyond the core (memory storage, in-process bus and scheduler,
fake payments) carry their registration in their own module. The ones here register adapters
whose library is an extra (SQLAlchemy, Stripe, Celery), imported only inside their factories so
that ``import eventhive_core`` works without them, and the default policies.
"""
