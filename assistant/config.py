"""Settings from the environment and a .env file.

The environment wins over .env. The API key lives only in this object and the SDK client: it is never
written to the index, a log line or an error message (`Settings.describe()` masks it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values, find_dotenv
from platformdirs import user_data_path

DEFAULT_MODEL = "gpt-4.1-mini"


def default_data_dir() -> Path:
    return user_data_path("assistant", appauthor=False)


@dataclass(frozen=True)
class Settings:
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    db_path: Path = field(default_factory=lambda: default_data_dir() / "index.db")
    max_retries: int = 2
    timeout: float = 600.0

    @property
    def uses_local_server(self) -> bool:
        """No key and no base URL: nothing to talk to but the embedded local server."""
        return not self.api_key and not self.base_url

    @property
    def local_server_db(self) -> Path:
        """The embedded server keeps its state (conversations, stored responses) beside the index."""
        return self.db_path.with_name("local-server.db")

    def with_overrides(self, **overrides: object) -> Settings:
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})

    def describe(self) -> dict[str, str]:
        """The effective settings for display, key masked."""
        return {
            "OPENAI_API_KEY": mask_key(self.api_key),
            "OPENAI_BASE_URL": self.base_url or ("(embedded local server)" if self.uses_local_server else
                                                 "https://api.openai.com/v1"),
            "ASSISTANT_MODEL": self.model,
            "ASSISTANT_DB": str(self.db_path),
        }


def mask_key(key: str | None) -> str:
    if not key:
        return "(not set)"
    if len(key) < 12:
        return "***"
    return f"{key[:3]}...{key[-4:]}"


def load_settings(environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = None) -> Settings:
    """Read settings from `environ` (default os.environ) over the values of a .env file (default: the nearest
    .env from the current directory up)."""
    environ = os.environ if environ is None else environ
    path = dotenv_path if dotenv_path is not None else find_dotenv(usecwd=True)
    values: dict[str, str | None] = dict(dotenv_values(path)) if path and Path(path).is_file() else {}
    values.update(environ)

    def get(name: str) -> str | None:
        value = values.get(name)
        return value.strip() if value and value.strip() else None

    db = get("ASSISTANT_DB")
    settings = Settings(
        api_key=get("OPENAI_API_KEY"),
        base_url=get("OPENAI_BASE_URL"),
        model=get("ASSISTANT_MODEL") or DEFAULT_MODEL,
    )
    if db:
        settings = replace(settings, db_path=Path(db).expanduser())
    return settings
