"""Where alerts go: a stream (text or JSON lines), an HTTP endpoint; with rate limiting."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from typing import IO, Protocol

from stockade.engines.falco.engine import Alert


class Sink(Protocol):
    """Receives alerts."""

    def emit(self, alert: Alert) -> None:
        """Deliver one alert."""
        ...


@dataclass
class StreamSink:
    """Writes Falco's text line or JSON object per alert."""

    stream: IO[str]
    fmt: str = "text"

    def emit(self, alert: Alert) -> None:
        """Write and flush one alert line."""
        self.stream.write((alert.json_line() if self.fmt == "json" else alert.text()) + "\n")
        self.stream.flush()


@dataclass
class HttpSink:
    """POSTs each alert as JSON (Falco's ``http_output``); delivery failures are counted."""

    url: str
    timeout: float = 5.0
    failures: int = 0

    def emit(self, alert: Alert) -> None:
        """POST one alert; never raises on network errors."""
        req = urllib.request.Request(
            self.url, data=alert.json_line().encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
        except OSError:
            self.failures += 1


@dataclass
class RateLimiter:
    """A token bucket: ``rate`` alerts per second with bursts of ``burst`` (Falco's outputs.rate)."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    last: float = field(default_factory=time.monotonic, init=False)
    dropped: int = 0

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def allow(self) -> bool:
        """Whether one more alert may go out now."""
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.dropped += 1
        return False


@dataclass
class Dispatcher:
    """Fans alerts out to sinks, after the optional rate limit."""

    sinks: list[Sink]
    limiter: RateLimiter | None = None
    emitted: int = 0

    def emit(self, alert: Alert) -> None:
        """Deliver to every sink unless rate-limited."""
        if self.limiter is not None and not self.limiter.allow():
            return
        self.emitted += 1
        for s in self.sinks:
            s.emit(alert)
