"""What an operator watches: the request id that follows a purchase, structured logs and metrics.

The modules here sit beside the ports, below the service layer and the adapters, which call
them: they hold no domain rule and need nothing but the standard library, structlog and
prometheus-client.
"""
