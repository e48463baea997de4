"""A shop written for ``starlette.middleware.sessions.SessionMiddleware``.

Its tests (``test_shop.py``) run it as written and again with only the
import line changed to sessionware's (see ``load``): nothing else differs.
The secret is 32+ bytes, the one change sessionware asks for.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

SECRET = "shop-secret-that-is-at-least-32-bytes-long"


async def login(request: Request) -> RedirectResponse:
    form = await request.form()
    request.session["user"] = str(form["name"])
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


async def add(request: Request) -> JSONResponse:
    cart = request.session.setdefault("cart", [])
    cart.append(request.path_params["item"])
    request.session["cart"] = cart
    return JSONResponse({"cart": cart})


async def home(request: Request) -> JSONResponse:
    return JSONResponse(
        {"user": request.session.get("user"), "cart": request.session.get("cart", [])}
    )


app = Starlette(
    routes=[
        Route("/", home),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/cart/{item}", add, methods=["POST"]),
    ]
)
app.add_middleware(SessionMiddleware, SECRET, max_age=7 * 86400)
