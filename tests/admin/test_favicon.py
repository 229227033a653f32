"""The panel's icon: linked from every page and answered at /favicon.ico too, without a log-in,
so browsers find it and no 404 lands in the log."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.support.world import TestWorld

ICON_LINK = re.compile(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">')


def test_the_linked_icon_and_favicon_ico_answer_with_the_svg(world: TestWorld, panel: TestClient) -> None:
    for page in ("/login", "/no-such-page"):  # the log-in page and the error page both link it
        link = ICON_LINK.search(panel.get(page).text)
        assert link, page
    assert link.group(1) == "/static/favicon.svg"
    linked = panel.get(link.group(1))
    fallback = panel.get("/favicon.ico", follow_redirects=False)
    for response in (linked, fallback):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.content.startswith(b"<svg") and b"<script" not in response.content
    assert fallback.content == linked.content
    assert panel.head("/favicon.ico").status_code == 200
