"""Lists stay JSON arrays; ``limit`` and ``cursor`` page through them with a ``Link`` header.

(docs/flask/api.md#pagination)
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import errors_of


def _walk(client: FlaskClient, path: str) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    while path:
        response = client.get(path)
        assert response.status_code == 200
        assert isinstance(response.get_json(), list)
        ids += [item["id"] for item in response.get_json()]
        pages += 1
        link = response.headers.get("Link")
        if link is None:
            break
        match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert match, link
        url = urlsplit(match.group(1))
        path = f"{url.path}?{url.query}"
    return ids, pages


def test_tickets_page_through_in_creation_order_with_a_link_to_the_next_page(api: Api) -> None:
    seller = api.user()
    created = [api.ticket(seller, title=f"t{n}")["id"] for n in range(7)]

    ids, pages = _walk(api.client(), "/api/tickets?limit=3")

    assert ids == created
    assert pages == 3


def test_the_last_page_has_no_link_and_the_default_page_has_no_link_when_all_fit(api: Api) -> None:
    seller = api.user()
    api.ticket(seller)

    response = api.client().get("/api/tickets")

    assert "Link" not in response.headers
    assert len(response.get_json()) == 1


def test_a_buyers_orders_page_through_and_other_query_parameters_are_kept(api: Api) -> None:
    seller, buyer = api.user(), api.user()
    placed = [api.order(buyer, api.ticket(seller, title=f"t{n}")["id"])["id"] for n in range(5)]

    ids, pages = _walk(buyer, "/api/orders?limit=2")
    mine, _ = _walk(seller, "/api/tickets?owner=me&limit=2")

    assert ids == placed
    assert pages == 3
    assert len(mine) == 5  # sold-out tickets too, and owner=me survives in the next links


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHx4",  # year 1 at +14:00: overflowed when converted
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwA",  # an id that is a NUL byte: PostgreSQL refused it
        "MjAyNi0wMS0wMVQwMDowMDowMHwwMTkyYzFhNC03ZTNiLTdjYzItOWQxZS0zZjZhMmI5ZThjMDE",  # a naive time
    ],
)
def test_a_cursor_this_server_could_not_have_issued_is_a_400_naming_the_field(api: Api, cursor: str) -> None:
    buyer = api.user()

    for path in (f"/api/tickets?cursor={cursor}", f"/api/orders?cursor={cursor}"):
        response = buyer.get(path)
        assert response.status_code == 400, path
        assert errors_of(response) == [{"message": "Cursor is not valid; follow the Link header", "field": "cursor"}]


def test_the_listing_page_shows_the_first_page_for_a_cursor_that_is_not_ours(api: Api) -> None:
    first = api.ticket(api.user(), title="Opening night")

    page = api.client().get("/?cursor=MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHx4")

    assert page.status_code == 200
    assert first["title"] in page.get_data(as_text=True)


def test_a_cursor_spelled_with_characters_base64_would_skip_is_a_400_not_the_page_it_decodes_to(api: Api) -> None:
    # Found by schemathesis: the document allowed any text of up to 512 characters, which gunicorn
    # refused as too long a request line (414, in HTML). Cursors are now documented as what the
    # server writes (URL-safe base64, at most 128 characters), and held to it: Python's base64
    # skipped characters outside its alphabet, so a cursor spelled with them still named a page.
    seller = api.user()
    for n in range(3):
        api.ticket(seller, title=f"t{n}")
    link = api.client().get("/api/tickets?limit=1").headers["Link"]
    cursor = re.search(r"cursor=([^&>]+)", link).group(1)  # type: ignore[union-attr]

    assert api.client().get(f"/api/tickets?limit=1&cursor={cursor}").status_code == 200
    for spelled in (cursor[:4] + "%21%21" + cursor[4:], cursor + "%3D%3D", cursor + "A" * (129 - len(cursor))):
        response = api.client().get(f"/api/tickets?limit=1&cursor={spelled}")
        assert response.status_code == 400, spelled
        assert errors_of(response) == [{"message": "Cursor is not valid; follow the Link header", "field": "cursor"}]
