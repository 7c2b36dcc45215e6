"""`safestreets serve`: the secret-key guard, the migration on start, the app handed to uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from safestreets.cli import serve as serve_cli
from safestreets.config import DEFAULT_SECRET, Settings
from safestreets.errors import ConfigError


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record uvicorn.run calls instead of listening."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


def use_settings(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    monkeypatch.setattr(serve_cli, "get_settings", lambda: Settings(**fields))


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "192.168.1.10", "::", "example.org", "127.0.0.1", "localhost"]
)
def test_default_secret_refused_on_reachable_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runs: list[dict[str, Any]], host: str
) -> None:
    use_settings(monkeypatch, data_dir=tmp_path, secret_key=DEFAULT_SECRET, demo=False)
    with pytest.raises(ConfigError) as info:
        serve_cli.serve(host=host, port=8123, database=None, reload=False)
    assert "SAFESTREETS_SECRET_KEY" in (info.value.hint or "")
    assert runs == []
    assert not (tmp_path / "safestreets.sqlite").exists()  # refused before touching anything


@pytest.mark.parametrize(
    ("host", "settings"),
    [
        ("127.0.0.1", {"secret_key": DEFAULT_SECRET, "demo": True}),
        ("localhost", {"secret_key": DEFAULT_SECRET, "demo": True}),
        ("::1", {"secret_key": "a-real-secret-0123456789"}),
        ("0.0.0.0", {"secret_key": DEFAULT_SECRET, "demo": True}),
        ("0.0.0.0", {"secret_key": "a-real-secret-0123456789"}),
    ],
)
def test_serve_migrates_and_runs(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    runs: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    host: str,
    settings: dict[str, Any],
) -> None:
    use_settings(monkeypatch, data_dir=tmp_path, **settings)
    db = tmp_path / "fresh.sqlite"
    serve_cli.serve(host=host, port=8123, database=f"sqlite:///{db}", reload=False)
    assert len(runs) == 1 and runs[0]["host"] == host and runs[0]["port"] == 8123
    assert ":8123/" in capsys.readouterr().out
    app = runs[0]["app"]
    assert isinstance(app, FastAPI)
    health = TestClient(app).get("/api/v1/health")  # the fresh file was migrated
    assert health.status_code == 200 and health.json()["incidents"] == 0
    assert db.exists()


def test_port_defaults_to_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runs: list[dict[str, Any]]
) -> None:
    use_settings(monkeypatch, data_dir=tmp_path, port=8999, demo=True)
    serve_cli.serve(host=None, port=None, database=None, reload=False)
    assert (runs[0]["host"], runs[0]["port"]) == ("127.0.0.1", 8999)
    assert (tmp_path / "safestreets.sqlite").exists()


def test_default_secret_is_never_used_to_sign_sessions(tmp_path: Path) -> None:
    from safestreets.api.app import create_app

    app = create_app(Settings(data_dir=tmp_path, secret_key=DEFAULT_SECRET, demo=True))
    other = create_app(Settings(data_dir=tmp_path, secret_key=DEFAULT_SECRET, demo=True))
    key = app.state.settings.secret_key
    assert key != DEFAULT_SECRET and len(key) >= 32
    assert other.state.settings.secret_key != key  # one random key per process/app
    kept = create_app(Settings(data_dir=tmp_path, secret_key="a-real-secret-0123456789"))
    assert kept.state.settings.secret_key == "a-real-secret-0123456789"
