from __future__ import annotations
from tests.conftest import make_client

def test_probe(pg_world):
    with make_client(pg_world, database_url="postgresql://postgres@127.0.0.1:1/nowhere") as c:
        for path in ("/health", "/api/version/latest", "/metrics", "/"):
            r = c.get(path)
            print(path, r.status_code, r.headers, r.text[:300])

def test_probe2(pg_world):
    with make_client(pg_world) as c:
        r = c.get("/api/license/activate"); print(r.status_code, r.headers, r.text)
        r = c.post("/health"); print(r.status_code, r.headers, r.text)
        r = c.post("/api/license/activate", content=b"{bad"); print(r.status_code, r.text)
        r = c.get("/nope", headers={"X-API-Key": ""}); print(r.status_code, r.text)
        r = c.get("/api/nope"); print(r.status_code, r.text)
        r = c.get("/openapi.json", headers={"X-API-Key": ""}); print(r.status_code, list(r.json()["paths"]))
