"""The baseline: a bare Starlette endpoint returning a small JSON, served exactly like the License
API (the same `uvicorn_options`: uvloop, httptools, no access log), so the ratio of an API
scenario to it is what the application costs on top of the server stack.

Run: `python bench/baseline_app.py --port 8100 [--workers 1]`.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from licenseserver.serving import uvicorn_options

FACTORY = "baseline_app:create_baseline_app"


async def status(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "baseline"})


def create_baseline_app() -> Starlette:
    return Starlette(routes=[Route("/", status, methods=["GET"])])


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the bare Starlette baseline.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # An import string, as for the API: worker processes (workers > 1) import it themselves,
    # which needs bench/ on PYTHONPATH (run_bench.py sets it).
    uvicorn.run(FACTORY, workers=args.workers, **uvicorn_options(args.host, args.port))


if __name__ == "__main__":
    main()
