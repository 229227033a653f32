"""Settings (contract §2): accepted forms, defaults, and one readable line for every bad value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from licenseserver.config import DEFAULT_DATABASE_URL, Settings, SettingsError, load_settings
from tests.conftest import SETTING_VARIABLES


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the outer environment and no `.env` file: only what a test sets counts."""
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.strip(), "the refusal must say something"
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    assert "Traceback" not in message
    return message


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.startswith("sqlite:///")
    assert settings.is_sqlite
    assert settings.rate_limit_api_per_minute == 100
    assert settings.rate_limit_login_per_minute == 5
    assert settings.display_timezone == "Europe/Berlin"
    assert settings.trusted_proxies == []
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("url", "is_sqlite"),
    [
        ("postgresql://user:secret@db.example.com:5432/licenses", False),
        ("postgresql://postgres@127.0.0.1:5432/postgres", False),
        ("postgres://user:secret@db.example.com:5432/licenses", False),
        ("postgresql://user:p%40ss@localhost/licenses", False),
        ("sqlite:///relative.db", True),
        ("sqlite:///./data/licenseserver.db", True),
        ("sqlite:////abs/path.db", True),
    ],
)
def test_database_url_usual_forms_accepted(monkeypatch: pytest.MonkeyPatch, url: str, is_sqlite: bool) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    settings = load_settings()
    assert settings.database_url == url
    assert settings.is_sqlite is is_sqlite


@pytest.mark.parametrize(
    "url",
    [
        "nonsense",
        "",
        "mysql://user@host/db",
        "http://example.com/db",
        "sqlite:relative.db",
        "postgresql//host/db",
        # Not a file path: SQLAlchemy's in-memory / malformed forms that only fail later with a trace.
        "sqlite://",
        "sqlite:///",
        "sqlite://relative.db",
    ],
)
def test_database_url_junk_refused_in_one_line(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    message = refusal(monkeypatch, DATABASE_URL=url)
    assert "DATABASE_URL" in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RATE_LIMIT_API_PER_MINUTE", "abc"),
        ("RATE_LIMIT_API_PER_MINUTE", "0"),
        ("RATE_LIMIT_API_PER_MINUTE", "-5"),
        ("RATE_LIMIT_API_PER_MINUTE", "1.5"),
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "five"),
        ("DISPLAY_TIMEZONE", "Mars/Base"),
        ("DISPLAY_TIMEZONE", "Europe/Berlin\nX"),
        ("DISPLAY_TIMEZONE", "../../etc/passwd"),
        ("TRUSTED_PROXIES", "10.0.0.1, not-an-address"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "a\nb"),
        ("API_KEY_CACHE_SECONDS", "5"),
        ("DB_POOL_SIZE", "zero"),
    ],
)
def test_bad_setting_refused_in_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    message = refusal(monkeypatch, **{variable: value})
    assert variable in message


def test_rate_limits_and_timezone_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_API_PER_MINUTE", "250")
    monkeypatch.setenv("RATE_LIMIT_LOGIN_PER_MINUTE", "3")
    monkeypatch.setenv("DISPLAY_TIMEZONE", "America/New_York")
    settings = load_settings()
    assert (settings.rate_limit_api_per_minute, settings.rate_limit_login_per_minute) == (250, 3)
    assert settings.display_timezone == "America/New_York"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("10.0.0.1", ["10.0.0.1"]),
        ("10.0.0.1,192.168.0.0/16", ["10.0.0.1", "192.168.0.0/16"]),
        (" 10.0.0.1 , 172.16.0.0/12 ,::1, ", ["10.0.0.1", "172.16.0.0/12", "::1"]),
        ("2001:db8::/32,127.0.0.1", ["2001:db8::/32", "127.0.0.1"]),
        ("", []),
    ],
)
def test_trusted_proxies_comma_list(monkeypatch: pytest.MonkeyPatch, raw: str, parsed: list[str]) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", raw)
    assert load_settings().trusted_proxies == parsed


def test_env_file_in_working_folder_supplies_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DATABASE_URL=postgresql://u:p@envfile.example:5433/fromfile\nRATE_LIMIT_API_PER_MINUTE=42\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.database_url == "postgresql://u:p@envfile.example:5433/fromfile"
    assert settings.rate_limit_api_per_minute == 42


def test_environment_wins_over_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from-file.db\n", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")
    assert load_settings().database_url == "sqlite:///from-env.db"


def test_bad_value_in_env_file_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISPLAY_TIMEZONE=Mars/Base\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "\n" not in str(caught.value)
    assert "DISPLAY_TIMEZONE" in str(caught.value)


def test_settings_class_is_what_load_settings_returns() -> None:
    assert isinstance(load_settings(), Settings)


def test_the_readme_names_every_setting() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    assert documented == set(SETTING_VARIABLES)
