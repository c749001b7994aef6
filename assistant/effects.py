"""Logic written once for both sync and async callers: a generator of steps, and the two drivers that run it.

Code that must serve `stream` and `astream` alike (a turn, a Chat-mode turn's rounds) is written as a generator
that does no I/O itself. It yields steps: events, which the driver passes on to its caller, and effects (`Effect`
subclasses: send a request, read the next event, run a function...), which the driver performs and whose result
it sends back in, or whose exception it throws in, so the generator's own `try` decides what an error means.
`drive` performs effects with plain calls, `adrive` with awaits; each caller says how in a `perform` function.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any

from assistant.events import Event


class Effect:
    """Something a step generator needs done (its subclasses say what); the driver answers with the result."""


class Abandoned(BaseException):
    """Thrown into the steps when their caller stops reading (closes the driver's iterator). GeneratorExit itself
    would not do: `yield from` answers it by closing the inner generators, so a `finally` there could not still ask
    for an effect (close the open response). The steps let it go on up; the driver then ends as closed."""


# What a step generator yields (events and effects), is sent (each effect's result) and returns (nothing).
Steps = Generator[Event | Effect, Any, None]


def drive(steps: Steps, perform: Callable[[Effect], Any]) -> Generator[Event, None, None]:
    """Run `steps` with plain calls: yield what it yields, `perform` its effects."""
    reply: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = steps.throw(failure) if failure is not None else steps.send(reply)
        except StopIteration:
            return
        except Abandoned:
            raise GeneratorExit from None
        reply, failure = None, None
        try:
            if isinstance(step, Effect):
                reply = perform(step)
            else:
                yield step
        except GeneratorExit:
            failure = Abandoned()
        except BaseException as exc:  # the steps decide: handle it, or let it go on up
            failure = exc


async def adrive(steps: Steps, perform: Callable[[Effect], Awaitable[Any]]) -> AsyncGenerator[Event, None]:
    """Run `steps` with awaits: the same steps as `drive`, without blocking the event loop."""
    reply: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = steps.throw(failure) if failure is not None else steps.send(reply)
        except StopIteration:
            return
        except Abandoned:
            raise GeneratorExit from None
        reply, failure = None, None
        try:
            if isinstance(step, Effect):
                reply = await perform(step)
            else:
                yield step
        except GeneratorExit:
            failure = Abandoned()
        except BaseException as exc:  # the steps decide: handle it, or let it go on up (cancelling included)
            failure = exc
