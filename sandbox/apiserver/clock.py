"""One simulated clock for all simulated controllers: ``speed`` simulated seconds pass per real second."""

from __future__ import annotations

import threading
import time


class SimClock:
    def __init__(self, speed: float) -> None:
        self.speed = float(speed)
        self._start = time.monotonic()

    def now(self) -> float:
        """Simulated seconds since the server started."""
        return (time.monotonic() - self._start) * self.speed

    def real(self, sim_seconds: float) -> float:
        """Real seconds that ``sim_seconds`` simulated seconds take."""
        return sim_seconds / self.speed

    def wait(self, sim_seconds: float, stop: threading.Event) -> bool:
        """Sleep ``sim_seconds`` of simulated time; True when ``stop`` was set meanwhile."""
        return stop.wait(max(0.0, self.real(sim_seconds)))
