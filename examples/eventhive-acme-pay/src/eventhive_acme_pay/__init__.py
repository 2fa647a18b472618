"""eventhive-acme-pay: an example EventHive payment-provider plugin.

The gateway lives in :mod:`eventhive_acme_pay.gateway`, the hook in :mod:`eventhive_acme_pay.plugin`.
Nothing is imported here, so loading the plugin stays cheap.
"""

__version__ = "0.1.0"
