"""URL-borne session IDs (FX-01): the edges of how parameters are split and named."""

from __future__ import annotations

from sessionware import RequestFacts, SessionConfig
from sessionware.core import Engine

from ..conftest import SECRET

ID_LIKE = "A" * 30


def refused(path: str = "/", query: str = "") -> bool:
    engine = Engine(SessionConfig(secret_keys=[SECRET]))
    return engine.begin(RequestFacts(path=path, query=query)).status == 400


def test_a_query_naming_every_id_parameter_is_still_screened() -> None:
    """The quick pre-check looks for any ID name, so a query holding all of them is split too."""
    query = f"jsessionid={ID_LIKE}&phpsessid=1&session_id=1&__Host-session=1"
    assert refused(query=query)


def test_an_id_in_an_earlier_path_parameter_is_found() -> None:
    """``;jsessionid=<id>;lang=en``: every ``;`` parameter is read, not only the last."""
    assert refused(path=f"/cart;jsessionid={ID_LIKE};lang=en")
    assert not refused(path="/cart;lang=en;v=2")


def test_a_value_holding_an_equals_sign_is_split_at_the_first() -> None:
    """``sid=<id>=x``: the name ends at the first ``=``, so the value still looks like an ID."""
    assert refused(query=f"sid={ID_LIKE}=x")
    assert refused(path=f"/a;sid={ID_LIKE}=x")
