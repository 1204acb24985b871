"""``pixelforge models list`` / ``models pull`` against a registry of tiny local checkpoints."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pixelforge.cli import app

runner = CliRunner()


def test_list_shows_families_and_local_presence(registry_path: Path):
    result = runner.invoke(app, ["models", "list", "--models-config", str(registry_path)], terminal_width=250)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "yes (local)" in lines["fast"] and "sd15" in lines["fast"]
    assert "yes (local)" in lines["pro"] and "flux" in lines["pro"]
    assert "no (path missing)" in lines["missing"]


def test_pull_offline_fails_with_a_clear_message(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("PIXELFORGE_MODELS_CONFIG", raising=False)
    result = runner.invoke(app, ["models", "pull", "fast"], terminal_width=250)
    assert result.exit_code == 1
    assert "cannot download kohbanye/pixel-art-style" in result.output
    assert "needs access to huggingface.co" in result.output


def test_pull_of_a_local_family_downloads_nothing(registry_path: Path):
    result = runner.invoke(app, ["models", "pull", "fast", "--models-config", str(registry_path)])
    assert result.exit_code == 0, result.output
    assert "is a local path; nothing to download" in result.output


def test_pull_unknown_name_lists_the_families(registry_path: Path):
    result = runner.invoke(app, ["models", "pull", "nope", "--models-config", str(registry_path)])
    assert result.exit_code == 2
    assert "fast" in result.output and "repo id" in result.output
