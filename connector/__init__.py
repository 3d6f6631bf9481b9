"""Click Connector: verified, de-duplicated, normalised `email.clicked` events from ESP webhooks."""

__version__ = "0.1.0"
