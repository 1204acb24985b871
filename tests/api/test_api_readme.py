"""README documents every setting (datasette's habit: an undocumented setting fails a test)."""

from __future__ import annotations

from pathlib import Path

from pixelforge.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme():
    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"PIXELFORGE_{name.upper()}" not in text]
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_setting_has_a_description():
    assert all(field.description for field in Settings.model_fields.values())


def test_every_api_route_is_in_the_readme():
    from pixelforge.api import create_app

    text = README.read_text()
    app = create_app(Settings(data_dir=Path("/nonexistent-not-started")))
    # The OpenAPI document, not app.routes: included routers do not expose `.path` on every FastAPI
    # version, which once made this check pass without looking at any route.
    paths = {p for p in app.openapi()["paths"] if p.startswith("/v1/")}
    assert {"/v1/inferences", "/v1/status", "/v1/pixel-fixer/standard"} <= paths
    for path in paths:
        shown = path.replace("{file_id}", "{id}")
        assert shown in text, f"{path} is not documented in README.md"
