"""Textual messages that carry engine events from worker threads to the UI.

Engine operations run in thread workers and emit :mod:`engine.events` through a sink
(:class:`tui.widgets.model.StepRun`). The sink stores the events in the step's bounded model and posts these messages
(``post_message`` is thread-safe). Log lines are batched: while one :class:`EventsPending` for a step is
waiting in the queue no other is posted, and its handler drains everything gathered meanwhile. Progress
updates replace each other (:meth:`ProgressUpdated.can_replace`), so a flood collapses to the latest.
"""

from __future__ import annotations

from textual.message import Message

from engine.events import Progress, StepResult


class EventsPending(Message):
    """New log lines, commands, checks or a result are waiting in the step's model."""

    def __init__(self, step: str) -> None:
        super().__init__()
        self.step = step


class ProgressUpdated(Message):
    """The latest progress of a step (replaces an older one still in the queue)."""

    def __init__(self, step: str, event: Progress) -> None:
        super().__init__()
        self.step = step
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, ProgressUpdated)
            and message.step == self.step
            and message.event.unit == self.event.unit
        )


class StepFinished(Message):
    """A step's engine operation reported its result."""

    def __init__(self, step: str, result: StepResult) -> None:
        super().__init__()
        self.step = step
        self.result = result


class JournalChanged(Message):
    """The journal was written; the step list should be recomputed."""
