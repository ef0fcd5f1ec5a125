"""Start-up refuses bad settings with one line that names the variable."""

import subprocess
import sys

import pytest

from app.settings import SettingsError, load_settings


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("STRATUS_PORT", "eighty")
    with pytest.raises(SettingsError, match="STRATUS_PORT"):
        load_settings()


def test_bad_secret_keys_are_refused(monkeypatch):
    monkeypatch.setenv("STRATUS_SECRET_KEYS", "k1:c2hvcnQ=")
    with pytest.raises(SettingsError, match=r"STRATUS_SECRET_KEYS.*32 bytes"):
        load_settings()


def test_production_refuses_public_dev_secrets(monkeypatch):
    monkeypatch.setenv("STRATUS_ENV", "production")
    with pytest.raises(SettingsError, match="STRATUS_JWT_SECRET must be set"):
        load_settings()


def test_cli_prints_one_line_and_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env={"STRATUS_MAX_QUERY_DEPTH": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "STRATUS_MAX_QUERY_DEPTH" in proc.stderr


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("http://a.test, http://b.test", ["http://a.test", "http://b.test"]),
        ('["http://c.test"]', ["http://c.test"]),
        ("http://d.test", ["http://d.test"]),
    ],
)
def test_cors_origins_from_the_environment(monkeypatch, value, origins):
    """The README documents a comma-separated list; a JSON list works too."""
    monkeypatch.setenv("STRATUS_CORS_ORIGINS", value)
    assert load_settings().cors_origins == origins
