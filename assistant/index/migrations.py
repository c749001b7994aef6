"""Named schema migrations, applied in order when the index is opened.

Why not Alembic: the index is an embedded file that upgrades itself on open, forward only; a list of small
named SQL steps recorded in a `_migrations` table (as simonw/llm does) is all that needs, adds no dependency,
and, unlike PRAGMA user_version, the same table works on a server database later. A migration is never
edited once released: change the schema by appending a new one.

An index that has migrations this version does not know was written by a newer version: it is refused with a
clear message rather than used and damaged.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine

from assistant.errors import IndexUnavailable

Migration = Callable[[Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(function: Migration) -> Migration:
    MIGRATIONS.append((function.__name__, function))
    return function


def _run(connection: Connection, *statements: str) -> None:
    for statement in statements:
        connection.exec_driver_sql(statement)


@migration
def m001_threads_turns_items(connection: Connection) -> None:
    _run(
        connection,
        """CREATE TABLE threads (
            id VARCHAR NOT NULL PRIMARY KEY,
            title VARCHAR NOT NULL DEFAULT '',
            mode VARCHAR NOT NULL DEFAULT 'conversation',
            model VARCHAR NOT NULL,
            instructions VARCHAR,
            conversation_id VARCHAR,
            last_response_id VARCHAR,
            base_url VARCHAR,
            parent_id VARCHAR REFERENCES threads (id),
            forked_at_seq INTEGER,
            archived BOOLEAN NOT NULL DEFAULT 0,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_threads_conversation_id ON threads (conversation_id)",
        "CREATE INDEX ix_threads_updated_at ON threads (updated_at)",
        """CREATE TABLE turns (
            id INTEGER NOT NULL PRIMARY KEY,
            thread_id VARCHAR NOT NULL REFERENCES threads (id),
            seq INTEGER NOT NULL,
            backend VARCHAR NOT NULL DEFAULT 'responses',
            mode VARCHAR NOT NULL DEFAULT 'conversation',
            status VARCHAR NOT NULL DEFAULT 'in_progress',
            model VARCHAR NOT NULL,
            input_text VARCHAR NOT NULL DEFAULT '',
            output_text VARCHAR NOT NULL DEFAULT '',
            error VARCHAR,
            incomplete_reason VARCHAR,
            response_id VARCHAR,
            previous_response_id VARCHAR,
            conversation_id VARCHAR,
            request_bytes INTEGER NOT NULL DEFAULT 0,
            ttft_ms FLOAT,
            latency_ms FLOAT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd FLOAT,
            created_at DATETIME NOT NULL,
            completed_at DATETIME,
            UNIQUE (thread_id, seq)
        )""",
        "CREATE INDEX ix_turns_thread_id ON turns (thread_id)",
        "CREATE INDEX ix_turns_response_id ON turns (response_id)",
        """CREATE TABLE items (
            id INTEGER NOT NULL PRIMARY KEY,
            turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            direction VARCHAR NOT NULL,
            type VARCHAR NOT NULL,
            item_id VARCHAR,
            status VARCHAR,
            payload VARCHAR NOT NULL
        )""",
        "CREATE INDEX ix_items_turn_id ON items (turn_id)",
        "CREATE INDEX ix_items_item_id ON items (item_id)",
    )


@migration
def m002_turns_fts(connection: Connection) -> None:
    # External-content FTS5 over the user's words and the answers; rowid = turns.id, a stable key.
    # Triggers keep it in step, including the partial answer written when a stream breaks off.
    _run(
        connection,
        """CREATE VIRTUAL TABLE turns_fts USING fts5(
            input_text, output_text, content='turns', content_rowid='id', tokenize='porter unicode61'
        )""",
        """CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts (rowid, input_text, output_text)
            VALUES (new.id, new.input_text, new.output_text);
        END""",
        """CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts (turns_fts, rowid, input_text, output_text)
            VALUES ('delete', old.id, old.input_text, old.output_text);
        END""",
        """CREATE TRIGGER turns_fts_update AFTER UPDATE OF input_text, output_text ON turns BEGIN
            INSERT INTO turns_fts (turns_fts, rowid, input_text, output_text)
            VALUES ('delete', old.id, old.input_text, old.output_text);
            INSERT INTO turns_fts (rowid, input_text, output_text)
            VALUES (new.id, new.input_text, new.output_text);
        END""",
        "INSERT INTO turns_fts (turns_fts) VALUES ('rebuild')",
    )


@migration
def m003_thread_changes(connection: Connection) -> None:
    # A log of what happened to a thread's state outside its turns: mode switches, server state rebuilt after
    # it was lost, forks, repairs. The user is told once; this is where it stays on record.
    _run(
        connection,
        """CREATE TABLE thread_changes (
            id INTEGER NOT NULL PRIMARY KEY,
            thread_id VARCHAR NOT NULL REFERENCES threads (id),
            kind VARCHAR NOT NULL,
            detail VARCHAR NOT NULL DEFAULT '',
            created_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_thread_changes_thread_id ON thread_changes (thread_id)",
    )


@migration
def m004_hosted_tools(connection: Connection) -> None:
    # What the server will not list back about hosted tools: each call with what it searched, found and ran;
    # each citation with its span; the files uploaded (sha256 finds a re-upload of the same content), the
    # vector stores holding them, and the containers code ran in with the files it made.
    _run(
        connection,
        "ALTER TABLE threads ADD COLUMN tools VARCHAR",  # the thread's tool settings as JSON; null: no tools
        """CREATE TABLE tool_calls (
            id INTEGER NOT NULL PRIMARY KEY,
            turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            item_id VARCHAR,
            type VARCHAR NOT NULL,
            status VARCHAR,
            queries VARCHAR,
            code VARCHAR,
            logs VARCHAR,
            container_id VARCHAR,
            results VARCHAR
        )""",
        "CREATE INDEX ix_tool_calls_turn_id ON tool_calls (turn_id)",
        """CREATE TABLE citations (
            id INTEGER NOT NULL PRIMARY KEY,
            turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            item_id VARCHAR,
            type VARCHAR NOT NULL,
            url VARCHAR,
            title VARCHAR,
            file_id VARCHAR,
            filename VARCHAR,
            container_id VARCHAR,
            start_index INTEGER,
            end_index INTEGER,
            text_index INTEGER
        )""",
        "CREATE INDEX ix_citations_turn_id ON citations (turn_id)",
        """CREATE TABLE files (
            id VARCHAR NOT NULL PRIMARY KEY,
            server VARCHAR NOT NULL,
            filename VARCHAR NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 VARCHAR NOT NULL,
            purpose VARCHAR NOT NULL,
            created_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_files_sha256 ON files (sha256)",
        """CREATE TABLE vector_stores (
            id VARCHAR NOT NULL PRIMARY KEY,
            server VARCHAR NOT NULL,
            thread_id VARCHAR REFERENCES threads (id),
            name VARCHAR NOT NULL DEFAULT '',
            created_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_vector_stores_thread_id ON vector_stores (thread_id)",
        """CREATE TABLE vector_store_files (
            vector_store_id VARCHAR NOT NULL REFERENCES vector_stores (id),
            file_id VARCHAR NOT NULL REFERENCES files (id),
            status VARCHAR NOT NULL,
            last_error VARCHAR,
            PRIMARY KEY (vector_store_id, file_id)
        )""",
        """CREATE TABLE containers (
            id VARCHAR NOT NULL PRIMARY KEY,
            thread_id VARCHAR REFERENCES threads (id),
            status VARCHAR NOT NULL DEFAULT 'active',
            replaced_by VARCHAR,
            created_at DATETIME NOT NULL
        )""",
        """CREATE TABLE container_files (
            id INTEGER NOT NULL PRIMARY KEY,
            container_id VARCHAR NOT NULL,
            file_id VARCHAR NOT NULL,
            turn_id INTEGER REFERENCES turns (id) ON DELETE CASCADE,
            filename VARCHAR NOT NULL,
            path VARCHAR,
            bytes INTEGER,
            created_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_container_files_turn_id ON container_files (turn_id)",
    )


@migration
def m005_local_file_copies(connection: Connection) -> None:
    # Where the index keeps its own copy of an uploaded file, so tools that run locally (the Chat Completions
    # fallback's file search) can read it without downloading it back.
    _run(connection, "ALTER TABLE files ADD COLUMN path VARCHAR")


@migration
def m006_function_results(connection: Connection) -> None:
    # Your own tools (function calls the library ran) and structured answers. A function call's row gets what
    # the function returned to the model, how long it took and its error (an exception, bad arguments, a denied
    # approval); a turn gets the structured-answer format it asked for (`text.format` as JSON) and how many
    # model rounds its function-call loop took (1 for a turn without function calls).
    _run(
        connection,
        "ALTER TABLE tool_calls ADD COLUMN call_id VARCHAR",
        "ALTER TABLE tool_calls ADD COLUMN output VARCHAR",
        "ALTER TABLE tool_calls ADD COLUMN error VARCHAR",
        "ALTER TABLE tool_calls ADD COLUMN duration_ms FLOAT",
        "ALTER TABLE turns ADD COLUMN output_format VARCHAR",
        "ALTER TABLE turns ADD COLUMN rounds INTEGER NOT NULL DEFAULT 1",
    )


@migration
def m007_comparisons(connection: Connection) -> None:
    # `assistant compare`: one row per conversation replayed through both APIs, linking its two recorded threads
    # (Responses and Chat) and keeping the report's summary, so the app can find and show a comparison later.
    # A deleted thread leaves the comparison with a null link rather than blocking the delete.
    _run(
        connection,
        """CREATE TABLE comparisons (
            id VARCHAR NOT NULL PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            source VARCHAR,
            responses_thread_id VARCHAR REFERENCES threads (id) ON DELETE SET NULL,
            chat_thread_id VARCHAR REFERENCES threads (id) ON DELETE SET NULL,
            summary VARCHAR,
            created_at DATETIME NOT NULL
        )""",
        "CREATE INDEX ix_comparisons_run_id ON comparisons (run_id)",
    )


@migration
def m008_turn_owner(connection: Connection) -> None:
    # The process running an in-progress turn ("host pid start-time"), so a turn whose process was killed can
    # be closed as interrupted when the index is next opened (turn_owner.py). The partial index keeps finding
    # the in-progress turns cheap however many turns there are (both SQLite and PostgreSQL have them).
    _run(
        connection,
        "ALTER TABLE turns ADD COLUMN owner VARCHAR",
        "CREATE INDEX ix_turns_in_progress ON turns (status) WHERE status = 'in_progress'",
    )


def applied(connection: Connection) -> list[str]:
    connection.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL)"
    )
    return [row[0] for row in connection.exec_driver_sql("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(writer: Engine, where: str) -> list[str]:
    """Apply the migrations the index lacks, each in its own transaction. Returns the names applied."""
    with writer.begin() as connection:
        done = applied(connection)
    known = [name for name, _ in MIGRATIONS]
    unknown = [name for name in done if name not in known]
    if unknown:
        raise IndexUnavailable(
            f"The index {where} was written by a newer version of assistant (it has migration "
            f"{unknown[-1]!r}). Upgrade assistant, or set ASSISTANT_DB to another file; it was not changed."
        )
    ran = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with writer.begin() as connection:
            step(connection)
            connection.exec_driver_sql(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", (name,)
            )
        ran.append(name)
    return ran
