"""Settings from the environment and a .env file.

The environment wins over .env. The API key lives only in this object and the SDK client: it is never
written to the index, a log line or an error message (`Settings.describe()` masks it). So do credentials written
into OPENAI_BASE_URL (`https://user:key@host/v1`): what is recorded or shown of it is `without_credentials`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values, find_dotenv
from platformdirs import user_data_path

from assistant.errors import AssistantError
from assistant.index.postgres import is_postgres_url, masked_url
from assistant.model_names import HOSTED_DEFAULT_MODEL, embedded_model, id_and_name
from assistant.urls import without_credentials

DEFAULT_MODEL = HOSTED_DEFAULT_MODEL
# The SDK honours a server's Retry-After of up to 2 minutes per retry, and sleeps through it without a word.
# Longer than this many seconds, we do not wait: the user is told at once how long to wait instead.
DEFAULT_MAX_RETRY_WAIT = 10.0


def default_data_dir() -> Path:
    return user_data_path("assistant", appauthor=False)


@dataclass(frozen=True)
class Settings:
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    # ASSISTANT_MODEL; None: the default for where requests go (see `model`).
    chosen_model: str | None = None
    db_path: Path = field(default_factory=lambda: default_data_dir() / "index.db")
    # A PostgreSQL index instead of the file (ASSISTANT_DB=postgresql://…); it may hold a password.
    db_url: str | None = field(default=None, repr=False)
    max_retries: int = 2
    timeout: float = 600.0  # seconds to wait for an answer to start, and for each next piece of a stream
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT  # the longest Retry-After the client sleeps through
    # The key `assistant serve` requires of its clients (ASSISTANT_SERVER_API_KEY): read from the environment,
    # where other local users cannot see it, unlike a command-line argument.
    server_api_key: str | None = field(default=None, repr=False)

    @property
    def uses_local_server(self) -> bool:
        """No key and no base URL: nothing to talk to but the embedded local server."""
        return not self.api_key and not self.base_url

    @property
    def model(self) -> str:
        """The model new threads use: ASSISTANT_MODEL, else the embedded server's own local model when it is the
        one answering (a new user sees the model that really answers, free), else gpt-4.1-mini."""
        if self.chosen_model:
            return self.chosen_model
        return embedded_model() if self.uses_local_server else DEFAULT_MODEL

    @property
    def index_location(self) -> Path | str:
        """Where the index is: its file, or its PostgreSQL URL."""
        return self.db_url or self.db_path

    @property
    def data_dir(self) -> Path:
        """The folder for what is kept beside the index (the embedded server's state, downloaded and uploaded
        files): the index file's folder, or the default data folder when the index is on a PostgreSQL server."""
        return default_data_dir() if self.db_url else self.db_path.parent

    @property
    def local_server_db(self) -> Path:
        """The embedded server keeps its state (conversations, stored responses) beside the index."""
        return self.data_dir / "local-server.db"

    def with_index(self, location: str | Path) -> Settings:
        """These settings with the index at `location`: a file path, or a `postgresql://` URL."""
        if is_postgres_url(location):
            return replace(self, db_url=str(location))
        return replace(self, db_path=Path(location).expanduser(), db_url=None)

    def with_overrides(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        max_retry_wait: float | None = None,
    ) -> Settings:
        """These settings with each value given here in place of the one read (None keeps the one read)."""
        return replace(
            self,
            api_key=self.api_key if api_key is None else api_key,
            base_url=self.base_url if base_url is None else base_url,
            chosen_model=self.chosen_model if model is None else model,
            max_retries=self.max_retries if max_retries is None else max_retries,
            timeout=self.timeout if timeout is None else timeout,
            max_retry_wait=self.max_retry_wait if max_retry_wait is None else max_retry_wait,
        )

    def describe(self) -> dict[str, str]:
        """The effective settings for display, key masked."""
        return {
            "OPENAI_API_KEY": mask_key(self.api_key),
            "OPENAI_BASE_URL": without_credentials(self.base_url)
            if self.base_url
            else ("(embedded local server)" if self.uses_local_server else "https://api.openai.com/v1"),
            "ASSISTANT_MODEL": id_and_name(self.model)
            if self.chosen_model
            else f"(not set): {id_and_name(self.model)}",
            "ASSISTANT_DB": masked_url(self.db_url) if self.db_url else str(self.db_path),
            "ASSISTANT_TIMEOUT": f"{self.timeout:g}",
            "ASSISTANT_MAX_RETRIES": str(self.max_retries),
            "ASSISTANT_MAX_RETRY_WAIT": f"{self.max_retry_wait:g}",
            "ASSISTANT_SERVER_API_KEY": mask_key(self.server_api_key),
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

    def number(name: str, kind: type[float | int], default: float, *, zero_ok: bool = True) -> float:
        """A count or a number of seconds from the environment; a bad value is one clear error, not a traceback."""
        value = get(name)
        if value is None:
            return default
        try:
            parsed = kind(value)
        except ValueError:
            parsed = None
        if parsed is None or not math.isfinite(parsed) or parsed < 0 or (parsed == 0 and not zero_ok):
            wanted = (
                "a whole number of retries, 0 or more"
                if kind is int
                else f"a number of seconds, {'0 or more' if zero_ok else 'more than 0'}"
            )
            raise AssistantError(f"{name}={value!r} is not valid: it must be {wanted}.")
        return parsed

    db = get("ASSISTANT_DB")
    settings = Settings(
        api_key=get("OPENAI_API_KEY"),
        base_url=get("OPENAI_BASE_URL"),
        chosen_model=get("ASSISTANT_MODEL"),
        timeout=number("ASSISTANT_TIMEOUT", float, Settings.timeout, zero_ok=False),
        max_retries=int(number("ASSISTANT_MAX_RETRIES", int, Settings.max_retries)),
        max_retry_wait=number("ASSISTANT_MAX_RETRY_WAIT", float, Settings.max_retry_wait),
        server_api_key=get("ASSISTANT_SERVER_API_KEY"),
    )
    return settings.with_index(db) if db else settings
