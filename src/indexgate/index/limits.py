"""The limits a request runs within: its deadline (``--timeout``) and the run's
(``--max-time``), the requests in flight per host, which halve on a throttle answer (429,
or 503 with ``Retry-After``) and recover, and how long a throttled request waits. What
the index said when it throttled is quoted in the messages (``index_words``).

``HttpClient`` (``indexgate.index.http``) applies them around every exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque

from indexgate.errors import DeadlineExceeded, Throttled
from indexgate.index.transport.base import RawResponse
from indexgate.index.transport.headers import Headers, http_date
from indexgate.lazy_re import LazyPattern
from indexgate.redact import redact

log = logging.getLogger("indexgate.http")
_NEVER = float("inf")  # a deadline that is not set (asked twice per request)

# Throttle answers (429, 503 with Retry-After) waited out per request, besides the
# deadlines; and the longest exponential pause of a 429 that names no Retry-After.
MAX_THROTTLES = 8
MAX_THROTTLE_PAUSE = 30.0
RECOVER_AFTER = 5.0  # seconds without a throttle answer before a host gets more requests


class Deadline:
    """When one logical request must be over, and which option set that time.

    Until the request first gets a slot (``start``), only the run's deadline bounds it:
    time queued behind the host's other requests is not the request's own. From then on
    ``--timeout`` covers connecting, the answer, retries and their pauses.
    """

    __slots__ = ("at", "limit", "run_at", "seconds", "started", "timeout", "what")

    def __init__(self, timeout: float, run_at: float | None, max_time: float | None) -> None:
        self.timeout = timeout
        self.run_at = run_at
        self.started = False
        self.at = _NEVER if run_at is None else run_at  # time.monotonic()
        self.limit, self.seconds, self.what = "--max-time", max_time or 0.0, "run deadline"

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        at = time.monotonic() + self.timeout
        if self.run_at is None or at < self.run_at:
            self.at = at
            self.limit, self.seconds, self.what = "--timeout", self.timeout, "request deadline"

    def remaining(self) -> float | None:
        """Seconds left; None when nothing bounds the request yet."""
        return None if self.at == _NEVER else self.at - time.monotonic()

    def expired(self, method: str, url: str, last_error: str, held: str = "") -> DeadlineExceeded:
        """The error for this deadline; ``held``: what the host said when it throttled, if
        that held this request back."""
        where = f"{method} {redact(url)}"
        ran_out = f"the {self.what} ({self.limit} {self.seconds:g} s) ran out"
        if last_error.startswith("throttled") or held:
            words = held or last_error.removeprefix("throttled: ")
            return Throttled(
                f"{where}: throttled: {ran_out} while the index answered {words}", self.limit
            )
        why = f" (last error: {last_error})" if last_error else ""
        return DeadlineExceeded(f"{where}: no complete answer; {ran_out}{why}", self.limit)

    async def pause(self, seconds: float, method: str, url: str, last_error: str) -> None:
        """Sleep before a retry, or fail now if the retry could not start in time."""
        if time.monotonic() + seconds >= self.at:
            raise self.expired(method, url, last_error)
        await asyncio.sleep(seconds)


class HostLimit:
    """Requests in flight to one host: the configured concurrency, halved on a throttle
    answer (at most once a second, so one burst of 429s is one cut); after a quiet spell
    with no throttle answer, one more allowed per ``allowed`` successes (additive
    increase, as TCP recovers) up to the configured concurrency again; and no request
    starts before the time the last ``Retry-After`` named.

    A background request (one nothing waits on to ask the next thing: a probe) gets a
    slot only when no other request waits for one, and leaves a quarter of the slots (at
    least one) to the others: a burst of probes never holds up the pages
    and metadata that decide what to ask next.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.allowed = float(ceiling)
        self.active = 0
        self.resume_at = 0.0  # time.monotonic()
        self.words = ""  # what the host last said when it throttled
        self._cut_at = self._last = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._background: deque[asyncio.Future[None]] = deque()  # served after _waiters

    def throttled(self, wait: float | None, words: str) -> None:
        now = self._last = time.monotonic()
        self.words = words
        if now - self._cut_at >= 1.0:
            self.allowed = max(1.0, self.allowed / 2)
            self._cut_at = now
        if wait:
            self.resume_at = max(self.resume_at, now + wait)

    def throttling(self) -> bool:
        """Is the host still holding requests back, or not yet trusted with all of them?"""
        return time.monotonic() < self.resume_at or self.allowed < self.ceiling

    def take(self, background: bool = False) -> bool:
        """A slot now, without waiting, if one is free (the usual case: no coroutine)."""
        if self.active < self._room(background) and not self._waiters and not self.resume_at:
            if background and self._background:
                return False
            self.active += 1
            return True
        return False

    def _room(self, background: bool) -> int:
        """Slots a request of this kind may fill."""
        allowed = int(self.allowed)
        return allowed - max(1, allowed // 4) if background and allowed > 1 else allowed

    def succeeded(self) -> None:
        if self.allowed < self.ceiling and time.monotonic() - self._last >= RECOVER_AFTER:
            self.allowed = min(float(self.ceiling), self.allowed + 1 / self.allowed)
            self._wake()

    async def acquire(self, background: bool = False) -> None:
        delay = self.resume_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif self.resume_at:
            self.resume_at = 0.0  # the pause is over: back to the fast path
        queue = self._background if background else self._waiters
        if self.active < self._room(background) and not self._waiters and not queue:
            self.active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # given a slot, then cancelled: pass it on
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def release(self) -> bool:
        """Give the slot back; True when a waiting request got it."""
        self.active -= 1
        return self._wake()

    def _wake(self) -> bool:
        woke = False
        while self._waiters and self.active < int(self.allowed):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)
                woke = True
        room = self._room(True)
        while self._background and not self._waiters and self.active < room:
            waiter = self._background.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)
                woke = True
        return woke


def retry_after(headers: Headers) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP-date, taken
    relative to the answer's own ``Date`` when it has one, so clock skew does not count);
    None without a usable one."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value) if len(value) < 10 else 1e9
    when = http_date(value)
    if when is None:
        return None
    import datetime as dt

    now = http_date(headers.get("date", "")) or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


_TAG = LazyPattern(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)  # throttled pages only
_WORDS_LIMIT = 200


def index_words(raw: RawResponse) -> str:
    """What the index said, for a message: its status, and the text of its body (the
    ``message`` of a JSON error, the text of an HTML page), redacted and truncated."""
    status = f"HTTP {raw.status}" + (f" {raw.reason}" if raw.reason else "")
    text = _body_text(raw)
    if text and text.lower() != raw.reason.lower():
        if len(text) > _WORDS_LIMIT:
            text = text[: _WORDS_LIMIT - 1].rstrip() + "…"
        status += f': "{text}"'
    return redact(status)


def _body_text(raw: RawResponse) -> str:
    body = raw.content[: 64 * 1024]
    kind = raw.headers.get("content-type", "").lower()
    if not body or not (not kind or "text" in kind or "json" in kind or "xml" in kind):
        return ""
    text = body.decode("utf-8", "replace")
    if "json" in kind or text.lstrip().startswith(("{", "[")):
        try:
            found = _json_message(json.loads(text))
        except ValueError:
            found = None
        if found:
            text = found
    import html  # here: only a throttled answer's page is read as HTML

    text = html.unescape(_TAG.sub(" ", text))
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())


def _json_message(data: object, depth: int = 0) -> str | None:
    """The first ``message`` / ``detail`` / ``error`` string of a JSON error body."""
    if depth > 4:
        return None
    if isinstance(data, dict):
        for key in ("message", "detail", "error_description", "error", "errors", "title"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value
            found = _json_message(value, depth + 1) if value is not None else None
            if found:
                return found
    if isinstance(data, list) and data:
        return _json_message(data[0], depth + 1)
    return None


def throttle_wait(
    raw: RawResponse,
    limit: HostLimit,
    throttles: int,
    backoff: float,
    deadline: Deadline,
    method: str,
    url: str,
) -> tuple[float, str]:
    """How long to wait after the ``throttles``-th throttle answer to one request, and the
    error to remember ("throttled: <what the index said>"); the host's ``limit`` learns of
    it. ``Throttled`` when waiting again would be too many waits, or past the deadline."""
    words = index_words(raw)
    wait = retry_after(raw.headers)
    limit.throttled(wait, words)
    if wait is None:  # no Retry-After: exponential from half a second, jittered
        import random  # here: only a throttled run needs it

        wait = max(backoff, 0.5) * 2 ** (throttles - 1) * (1 + random.random() / 2)
        wait = min(MAX_THROTTLE_PAUSE, wait)
    log.info("%s %s: throttled (HTTP %d), waiting %.3g s", method, redact(url), raw.status, wait)
    if throttles > MAX_THROTTLES:
        raise Throttled(
            f"{method} {redact(url)}: throttled: the index still answered {words} "
            f"after {MAX_THROTTLES} waits",
            deadline.limit,
        )
    if time.monotonic() + wait >= deadline.at:
        raise Throttled(
            f"{method} {redact(url)}: throttled: the index answered {words} and "
            f"asked for {wait:.3g} s more, past the {deadline.what} "
            f"({deadline.limit} {deadline.seconds:g} s)",
            deadline.limit,
        )
    return wait, f"throttled: {words}"
