"""ocp-airgap engine: the documented disconnected-update procedures, without any UI.

Nothing below this package imports Textual, Rich, ``screens`` or ``tui`` (checked statically by
``tests/test_import_hygiene.py`` and at runtime in a subprocess). Operations take a :class:`~engine.plan.Plan`,
an :class:`~engine.events.Emitter` for live events and a ``threading.Event`` for cancellation.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
