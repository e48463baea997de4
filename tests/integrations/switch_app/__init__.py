"""A small Starlette app written for Starlette's SessionMiddleware, and its own tests."""
