"""Background responses (`background: true`): generated on a worker thread while clients poll or follow.

The POST returns at once with the queued Response; the events go into a `LiveRun` that any number of streams
(`POST ... stream=true` itself, or `GET /responses/{id}?stream=true`) follow from sequence 0. Once the run ends
its event log is in the store, and later replays read it from there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from .runner import PreparedResponse, ResponseRunner
from .sse import Event

logger = logging.getLogger(__name__)


class LiveRun:
    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self.events: list[Event] = []
        self.done = False
        self.cancel = threading.Event()
        self._changed = threading.Condition()

    def append(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def finish(self) -> None:
        with self._changed:
            self.done = True
            self._changed.notify_all()

    def follow(self, stop: threading.Event) -> Iterator[Event]:
        """Every event from sequence 0, waiting for new ones until the run ends (or `stop` is set)."""
        position = 0
        while not stop.is_set():
            with self._changed:
                while position >= len(self.events) and not self.done and not stop.is_set():
                    self._changed.wait(timeout=0.25)
                pending = self.events[position:]
                ended = self.done
            yield from pending
            position += len(pending)
            if ended and position >= len(self.events):
                return

    def wait_for_events(self, count: int, timeout: float = 5.0) -> None:
        with self._changed:
            self._changed.wait_for(lambda: len(self.events) >= count or self.done, timeout=timeout)


class BackgroundRuns:
    def __init__(self, runner: ResponseRunner) -> None:
        self._runner = runner
        self._runs: dict[str, LiveRun] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def start(self, prepared: PreparedResponse) -> LiveRun:
        run = LiveRun(prepared.id)
        thread = threading.Thread(target=self._work, args=(prepared, run), name=f"bg-{prepared.id[:16]}", daemon=True)
        with self._lock:
            self._runs[prepared.id] = run
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return run

    def get(self, response_id: str) -> LiveRun | None:
        with self._lock:
            run = self._runs.get(response_id)
        return run if run is not None and not run.done else None

    def cancel(self, response_id: str, timeout: float = 5.0) -> None:
        run = self.get(response_id)
        if run is None:
            return
        run.cancel.set()
        with self._lock:
            threads = [t for t in self._threads if t.name == f"bg-{response_id[:16]}"]
        for thread in threads:
            thread.join(timeout)

    def shutdown(self, timeout: float = 2.0) -> None:
        self.stopping.set()
        with self._lock:
            runs = list(self._runs.values())
            threads = list(self._threads)
        for run in runs:
            run.cancel.set()
        for thread in threads:
            thread.join(timeout)

    def _work(self, prepared: PreparedResponse, run: LiveRun) -> None:
        try:
            for event in self._runner.run(prepared, cancel=run.cancel):
                run.append(event)
        except Exception:
            logger.exception("background response %s failed", prepared.id)
        finally:
            run.finish()
            with self._lock:
                self._runs.pop(prepared.id, None)
