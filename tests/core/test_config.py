"""Settings: the platform's names, the backend rule, clear errors, no leaked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from sartiq_storage.core.config import BackendKind, Environment, load_settings
from sartiq_storage.core.errors import ConfigurationError


def test_defaults_are_the_embedded_development_service() -> None:
    settings = load_settings()
    assert settings.ENVIRONMENT is Environment.development
    assert settings.backend is BackendKind.local
    assert settings.embedded
    assert settings.database_url.startswith("sqlite:///")
    assert settings.R2_REGION == "auto"


def test_s3_is_chosen_when_endpoint_and_key_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_ENDPOINT_URL", "https://acc.r2.cloudflarestorage.com")
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "shh-very-secret")
    settings = load_settings()
    assert settings.backend is BackendKind.s3
    monkeypatch.setenv("STORAGE_BACKEND", "memory")
    assert load_settings().backend is BackendKind.memory


def test_endpoint_alone_keeps_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_ENDPOINT_URL", "http://localhost:9002")
    assert load_settings().backend is BackendKind.local


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ENVIRONMENT=staging\nCDN_URL=https://cdn.example.com/\n")
    settings = load_settings()
    assert settings.ENVIRONMENT is Environment.staging
    assert settings.CDN_URL == "https://cdn.example.com"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ENVIRONMENT", "prod", "ENVIRONMENT"),
        ("CDN_URL", "ftp://x", "CDN_URL"),
        ("CDN_URL", "https://user:pw@cdn.example.com", "credentials"),
        ("R2_BUCKET_NAME", "a", "R2_BUCKET_NAME"),
        ("STORAGE_BACKEND", "floppy", "STORAGE_BACKEND"),
        ("CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED", "maybe", "CLOUDFLARE"),
    ],
)
def test_invalid_settings_give_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=fragment):
        load_settings()


def test_memory_backend_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("STORAGE_BACKEND", "memory")
    with pytest.raises(ConfigurationError, match="memory"):
        load_settings()


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "shh-very-secret")
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AUTH_JWT_SECRET", "jwt-very-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:db-very-secret@h/db")
    settings = load_settings()
    text = repr(settings) + str(settings.masked())
    for secret in ("shh-very-secret", "jwt-very-secret", "db-very-secret"):
        assert secret not in text
    assert settings.masked()["R2_SECRET_ACCESS_KEY"] == "********"


def test_web_app_origins_from_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_APP_ORIGINS", "http://a.test, https://b.test/")
    assert load_settings().WEB_APP_ORIGINS == ["http://a.test", "https://b.test"]


def test_log_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (load_settings().LOG_FORMAT, load_settings().LOG_LEVEL) == ("text", "INFO")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    assert (load_settings().LOG_FORMAT, load_settings().LOG_LEVEL) == ("json", "WARNING")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        load_settings()
