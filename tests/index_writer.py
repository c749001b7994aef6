"""One writer process for tests/test_concurrent_processes.py: asks TURNS questions through the real library,
round-robin over the given threads, into the index at DB.

    python tests/index_writer.py BASE_URL DB NAME TURNS THREAD_ID...

It says "ready" once its index is open, starts when a line arrives on stdin (so that both writers start
together), and ends by printing one JSON line: the errors it met, each as its one-line message.
"""

from __future__ import annotations

import json
import sys

from assistant import Assistant
from assistant.errors import AssistantError


def main() -> int:
    base_url, db, name, turns, *thread_ids = sys.argv[1:]
    errors: list[str] = []
    with Assistant(base_url=base_url, api_key="local-test-key", db_path=db, max_retries=2) as assistant:
        threads = [assistant.thread(thread_id) for thread_id in thread_ids]
        print("ready", flush=True)
        sys.stdin.readline()
        for number in range(int(turns)):
            thread = threads[number % len(threads)]
            try:
                thread.ask(f"{name} turn {number}")
            except AssistantError as error:
                errors.append(str(error))
            except Exception as error:  # e.g. sqlite3.OperationalError: what the user would see as a traceback
                errors.append(f"{type(error).__name__}: {error}")
    print(json.dumps({"errors": errors}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
