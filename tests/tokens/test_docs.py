"""The server example in docs/tokens.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

DOC = Path(__file__).resolve().parents[2] / "docs" / "tokens.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


async def test_docs_server_example_login_call_refresh_logout() -> None:
    """The documented app logs in, serves a bearer call, refreshes and logs out."""
    namespace: dict = {}
    exec(compile(python_blocks()[0], str(DOC), "exec"), namespace)
    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.com") as api:
        pair = (
            await api.post("/login", json={"user": "alice", "password": "correct horse"})
        ).json()
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        assert (await api.get("/api/me", headers=auth)).json() == {"user": "alice", "plan": "pro"}
        new = (
            await api.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
        ).json()
        auth = {"Authorization": f"Bearer {new['access_token']}"}
        assert (await api.post("/logout", headers=auth)).status_code == 204
        gone = await api.post("/token/refresh", json={"refresh_token": new["refresh_token"]})
        assert gone.status_code == 401
