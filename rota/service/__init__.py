"""`rota serve`: the engine over HTTP (SPEC 5.2), on FastAPI.

- `core`: the engine behind the endpoints (lock, group commits, timeouts, metrics);
- `app`: the application; `policy_api`, `users_api`, `contacts_api`, `decisions_api`: the endpoints by area;
- `inputs`: reading bodies and query parameters;
- `auth`: the bearer token; `errors`: the error bodies, the statuses each route documents, the body limit;
- `models`: every request and response body (the contract of /openapi.json).
- `feed`: durable decisions for their readers; `outbox`: the webhook that posts each one.
"""

from .app import create_app
from .core import RotaService, utc_now
from .outbox import Webhook
from .users_api import STATUSES

__all__ = ["STATUSES", "RotaService", "Webhook", "create_app", "utc_now"]
