"""The interactive API document works offline: Swagger UI is served by the app itself."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from safestreets.api.app import create_app
from safestreets.config import Settings
from safestreets.store.engine import get_engine


def test_docs_page_uses_only_vendored_assets(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), get_engine(f"sqlite:///{tmp_path}/x.sqlite"))
    client = TestClient(app)
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"(src|href)=['\"]https?://", page.text), "the page loads from a CDN"
    assets = re.findall(r"['\"](/static/vendor/swagger-ui/[^'\"]+)['\"]", page.text)
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN: not offered
