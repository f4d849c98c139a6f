"""`rota serve`: the engine over HTTP (SPEC 5.2), on FastAPI.

- `core`: the engine behind the endpoints (lock, group commits, timeouts, metrics);
- `app`: the endpoints;
- `auth`: the bearer token; `errors`: the error bodies and the body limit.
"""

from .app import STATUSES, create_app
from .core import RotaService, utc_now

__all__ = ["STATUSES", "RotaService", "create_app", "utc_now"]
