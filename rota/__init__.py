"""rota: routing policies for customer-messaging desks (re-exports restored at integration)."""

__version__ = "0.1.0"
