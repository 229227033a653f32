"""/docs works without internet access: the page names no other host, and every file it loads
is served by the License API itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from licenseserver.config import Settings

REFERENCE = re.compile(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""")
ANY_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[^\s'\"<>]+", re.IGNORECASE)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app without its lifespan: the docs need no database."""
    unused: Path = tmp_path_factory.mktemp("docs") / "unused.db"
    return TestClient(create_api_app(Settings(database_url=f"sqlite:///{unused}")))


def test_the_docs_page_names_no_other_host(api: TestClient) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert ANY_HOST.findall(page.text) == []
    assert '"validatorUrl": null' in page.text  # no badge from validator.swagger.io


def test_every_file_the_docs_page_loads_is_served_here(api: TestClient) -> None:
    page = api.get("/docs").text
    references = {first or second for first, second in REFERENCE.findall(page)}
    assert len(references) == 4, references  # the script, the style sheet, the icon, the document
    for reference in sorted(references):
        assert reference.startswith("/"), reference
        response = api.get(reference)
        assert response.status_code == 200, reference
        assert len(response.content) > 100, reference
    script = api.get("/docs/static/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text


def test_redoc_is_switched_off(api: TestClient) -> None:
    response = api.get("/redoc")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
