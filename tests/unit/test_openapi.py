"""The OpenAPI description and the app's routes agree, both ways."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from web import create_app
from web.openapi import description
from welfare_watch.settings import Settings


def _routes(tmp_path: Path) -> set[tuple[str, str]]:
    settings = Settings.load(data_dir=tmp_path, secret_key="x" * 40)
    app = create_app(settings, CollectorRegistry())
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if (
            route.method == "HEAD"
            or "prefix" in info
            or not path.startswith(("/api", "/metrics", "/healthz", "/readyz"))
        ):
            continue  # static files and the inbox's pages are not API
        found.add((path, route.method.lower()))
    return found


def test_every_route_is_described_and_every_description_is_a_route(tmp_path: Path) -> None:
    described = {(path, method) for path, ops in description()["paths"].items() for method in ops}
    assert _routes(tmp_path) == described
