"""Framework integrations: Starlette drop-in, FastAPI dependencies, Flask, legacy migration.

Import the one you need by path (``sessionware.integrations.fastapi``...);
each names the extra it requires when that is missing.  This package itself
only holds the cookie-name rule the compatibility layers share.
"""

from __future__ import annotations

from ..keywords import default_cookie_name

__all__ = ["default_cookie_name"]
