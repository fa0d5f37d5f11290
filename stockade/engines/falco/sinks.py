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
    last_error: str = ""

    def emit(self, alert: Alert) -> None:
        """POST one alert; never raises on network errors."""
        req = urllib.request.Request(
            self.url, data=alert.json_line().encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
        except OSError as e:
            self.failures += 1
            self.last_error = str(getattr(e, "reason", None) or e)


@dataclass
class RateLimiter:
    """Token buckets per rule: ``rate`` alerts per second with bursts of ``burst``.

    Like Falco's ``outputs.rate``/``outputs.max_burst``, but one bucket per rule, so a rule
    repeating itself is throttled without hiding the alerts of other rules.
    """

    rate: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    dropped: int = 0

    def allow(self, key: str = "") -> bool:
        """Whether one more alert of ``key`` may go out now."""
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self.buckets[key] = (tokens - 1.0, now)
            return True
        self.buckets[key] = (tokens, now)
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
        if self.limiter is not None and not self.limiter.allow(alert.rule):
            return
        self.emitted += 1
        for s in self.sinks:
            s.emit(alert)
