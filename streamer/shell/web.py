"""The worker's web endpoints (Faust's own web server), its health, and who may read them.

==============================  ===========  ==========================================="""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from streamer.core.profile import prompt_cache_stats
from streamer.settings import Settings
from streamer.shell import faust_compat
from streamer.shell.dashboard import STATIC_FILES, OpsView, riskiest, static_file
from streamer.shell.loopwatch import THRESHOLD_S as LOOP_STALL_S
from streamer.shell.loopwatch import LoopWatch
from streamer.shell.metrics import (
    CONTENT_TYPE_LATEST,
    LOOP_WINDOW_S,
    Metrics,
    consumer_lags,
    directory_bytes,
    frozen_objects,
    measure_loop_lag,
    watch_gc,
)
from streamer.shell.worker import internal_topics

#: Paths answered without a token.
OPEN_PATHS = frozenset({"/health", "/ready", "/login"})
COOKIE = "streamer_session"
log = logging.getLogger("streamer.web")
#: How often the monitor task wakes, and every how many wake-ups it refreshes consumer lags.
MONITOR_INTERVAL_S = 1.0
LAG_EVERY = 5


class Health:
    """The processor's own progress, as ``/health`` judges it.

    The agents call :meth:`begin` when a batch starts and :meth:`beat` when it ends, with the
    (topic, partition, offset) of its records. ``/health`` answers 503 when

    * an agent failed (:attr:`failure`) or its task ended;
    * a batch has been running for longer than the stall window (a wedged batch: an await that
      never returns, a dead lock) — whatever the consumer does meanwhile;
    * no batch finished within the stall window while records wait: some assigned partition's
      highwater is beyond the next offset the processor would handle (its last processed
      offset + 1, or the consumer's position where it processed nothing yet).

    >>> h = Health(stall_s=10, clock=lambda: 100.0)
    >>> h.begin("detect"); h.stalled_batch(now=105.0), h.stalled_batch(now=111.0)
    (None, 'detect')
    >>> h.beat("detect", [("t", 0, 41)]); h.stalled_batch(now=200.0), h.processed[("t", 0)]
    (None, 41)
    """

    def __init__(self, stall_s: float = 60.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.clock = clock
        self.stall_s = stall_s
        self.started = clock()
        self.last_batch = clock()
        self.failure: str | None = None
        self.batches = 0
        self.in_progress: dict[str, float] = {}
        self.processed: dict[tuple[str, int], int] = {}

    def begin(self, agent: str) -> None:
        self.in_progress[agent] = self.clock()

    def beat(self, agent: str = "", offsets: Iterable[tuple[str, int, int]] = ()) -> None:
        self.in_progress.pop(agent, None)
        self.last_batch = self.clock()
        self.batches += 1
        for topic, partition, offset in offsets:
            tp = (topic, partition)
            if offset > self.processed.get(tp, -1):
                self.processed[tp] = offset

    def stalled_batch(self, now: float | None = None) -> str | None:
        """The agent whose batch has run longer than the stall window, if any."""
        now = self.clock() if now is None else now
        for agent, since in self.in_progress.items():
            if now - since > self.stall_s:
                return agent
        return None

    def idle_for(self, now: float | None = None) -> float:
        return (self.clock() if now is None else now) - self.last_batch

    def waiting(self, highwater: Mapping[tuple[str, int], int | None],
                position: Mapping[tuple[str, int], int | None]) -> list[tuple[str, int]]:
        """Partitions whose records wait for the processor.

        >>> h = Health()
        >>> h.beat("detect", [("t", 0, 9)])
        >>> h.waiting({("t", 0): 10, ("t", 1): 5, ("t", 2): 5}, {("t", 1): 5, ("t", 2): 3})
        [('t', 2)]
        >>> h.waiting({("t", 0): 12}, {})
        [('t', 0)]
        """
        out = []
        for tp, hw in highwater.items():
            if hw is None:
                continue
            done = self.processed.get(tp)
            nxt = done + 1 if done is not None else position.get(tp)
            if nxt is not None and hw > nxt:
                out.append(tp)
        return sorted(out)


def await_chain(task: asyncio.Task[Any], depth: int = 16) -> str:
    """Where ``task`` is suspended: its coroutine and every coroutine it awaits, outermost
    first (``Task.get_stack`` gives only the outermost frame of a suspended coroutine)."""
    parts = []
    aw: Any = task.get_coro()
    for _ in range(depth):
        frame = getattr(aw, "cr_frame", None) or getattr(aw, "gi_frame", None) or getattr(
            aw, "ag_frame", None)
        if frame is None:
            if aw is not None:
                parts.append(type(aw).__name__)  # a future, or a C-level awaitable
            break
        parts.append(f"{frame.f_code.co_name} ({Path(frame.f_code.co_filename).name}:"
                     f"{frame.f_lineno})")
        aw = getattr(aw, "cr_await", None) or getattr(aw, "gi_yieldfrom", None) or getattr(
            aw, "ag_await", None)
    return " -> ".join(parts) or "(done)"


def task_stacks(limit: int = 80) -> str:
    """:func:`await_chain` of every asyncio task of the running loop (at most ``limit``): what
    a stalled batch waits on, logged once when ``/health`` turns unhealthy for it."""
    return "\n".join(f"  {t.get_name()}: {await_chain(t)}"
                     for t in list(asyncio.all_tasks())[:limit])


def web_conf(settings: Settings) -> dict[str, Any]:
    """The Faust app settings of the web server: bind, advertised host, pages, auth."""
    return {
        "web_port": settings.web_port,
        "web_bind": settings.web_bind,
        "web_host": settings.web_host,
        "web_tables_enabled": False,
        "web_router_enabled": False,
        "web_stats_enabled": False,
        "web_graph_enabled": False,
        "web_application_options": {"middlewares": [auth_middleware(settings.web_token.get())]},
    }


def session_value(token: str) -> str:
    """The login cookie's value: derived from the token, useless without it elsewhere."""
    return hmac.new(token.encode(), b"streamer-dashboard-session", "sha256").hexdigest()


def authorized(token: str, header: str | None, cookie: str | None) -> bool:
    """Does the request carry ``token`` (bearer header or login cookie)? Constant time.

    >>> authorized("", None, None), authorized("s3", "Bearer s3", None)
    (True, True)
    >>> authorized("s3", "Bearer s4", None), authorized("s3", None, "s3")
    (False, False)
    >>> authorized("s3", None, session_value("s3"))
    True
    """
    if not token:
        return True
    if header and header[:7].lower() == "bearer ":
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())
    if cookie:
        return hmac.compare_digest(cookie.encode(), session_value(token).encode())
    return False


def auth_middleware(token: str) -> Any:
    """aiohttp middleware: 401 for protected paths without the token."""
    from aiohttp import web as aioweb

    @aioweb.middleware
    async def check(request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
        if request.path in OPEN_PATHS or authorized(
                token, request.headers.get("Authorization"), request.cookies.get(COOKIE)):
            return await handler(request)
        if request.path == "/" and "text/html" in request.headers.get("Accept", ""):
            raise aioweb.HTTPSeeOther("/login")  # a browser without the cookie: sign in
        return aioweb.json_response({"error": "unauthorized"}, status=401,
                                    headers={"WWW-Authenticate": 'Bearer realm="streamer"'})

    return check


LOGIN_FORM = b"""<!doctype html><html><head><meta charset="utf-8"><title>streamer login</title>
</head><body style="font-family:sans-serif;margin:3em"><h1>streamer</h1>
<form method="post" action="/login"><label>Token <input type="password" name="token"
autofocus></label> <button type="submit">Sign in</button></form></body></html>"""


def register_pages(app: Any, proc: Any, states: Any, health: Health, *,
                   settings: Settings | None = None, metrics: Metrics | None = None,
                   view: OpsView | None = None, clusters: Any = None) -> None:
    """Register the pages above on ``app`` and start the monitor task with the worker."""
    from aiohttp import web as aioweb
    from faust import web

    s = settings or Settings()
    metrics = metrics or Metrics()
    view = view or OpsView()
    metrics.track(customers=lambda: len(proc.cache),
                  cluster_index=lambda: len(clusters.cache) if clusters is not None else 0,
                  state_stores=_state_stores(app, s))
    pages = {name: static_file(name) for name in STATIC_FILES}
    riskiest_cache: dict[str, Any] = {"at": -1.0, "rows": []}
    sources = {s.input_topic, s.feedback_topic, *internal_topics(s)}

    def assignment() -> list[Any]:
        """Assigned partitions of the agents' source topics (not changelogs, not Faust's)."""
        try:
            return [tp for tp in app.consumer.assignment() if tp.topic in sources]
        except Exception:
            return []

    async def offsets() -> tuple[dict[tuple[str, int], int | None],
                                 dict[tuple[str, int], int | None]]:
        """Highwater and position of each assigned source partition (Faust consumer API)."""
        hw: dict[tuple[str, int], int | None] = {}
        pos: dict[tuple[str, int], int | None] = {}
        for tp in assignment():
            key = (tp.topic, tp.partition)
            try:
                hw[key] = app.consumer.highwater(tp)
                pos[key] = await app.consumer.position(tp)
            except Exception:
                hw[key] = pos[key] = None
        return hw, pos

    def agents_alive() -> tuple[bool, str]:
        why = faust_compat.stopped_agent(app.agents.values())
        return why is None, why or ""

    def readiness() -> tuple[bool, str]:
        """Assigned input partitions, no rebalance, table recovery done (Faust's public state:
        ``app.rebalancing``, ``app.tables.recovery.in_recovery`` / ``.completed``)."""
        if app.rebalancing:
            return False, "rebalancing"
        recovery = app.tables.recovery
        if recovery.in_recovery or not recovery.completed.is_set():
            return False, "recovering tables"
        if not any(tp.topic == s.input_topic for tp in assignment()):
            return False, "no input partitions assigned"
        return True, ""

    async def health_status() -> tuple[bool, dict[str, Any]]:
        alive, why = agents_alive()
        if health.failure:
            alive, why = False, health.failure
        stalled = ""
        wedged = health.stalled_batch()
        if alive and wedged:
            stalled = f"a batch of agent {wedged} has run for more than {health.stall_s:g}s"
        elif alive and health.idle_for() > health.stall_s and not app.rebalancing:
            waiting = health.waiting(*(await offsets()))
            if waiting:
                stalled = (f"no batch for {health.idle_for():.0f}s while records wait on "
                           + ", ".join(f"{t}:{p}" for t, p in waiting[:5]))
        ok = alive and not stalled
        degraded = proc.quality.guard.degraded  # too many dead letters: still 200, but say so
        status = ("degraded" if degraded else "ok") if ok else "unhealthy"
        return ok, {"status": status, "input": proc.quality.guard.status().to_dict(),
                    "agents_alive": alive,
                    "detail": why or stalled, "batches": health.batches,
                    "seconds_since_last_batch": round(health.idle_for(), 1),
                    "stall_window_s": health.stall_s}

    dumped: set[str] = set()  # agents whose stalled batch was logged

    def blocked(stack: str, lasted_s: float) -> None:
        log.warning("event loop blocked for %.0f ms so far (limit %.0f ms); its thread is "
                    "at:\n%s", lasted_s * 1000, LOOP_STALL_S * 1000, stack)

    loopwatch = LoopWatch(threshold_s=LOOP_STALL_S, report=blocked)

    async def monitor() -> None:
        """Consumer lag, readiness and rates every few seconds (the loop lag has its own
        probe, :func:`~streamer.shell.metrics.measure_loop_lag`)."""
        n = 0
        while True:
            await asyncio.sleep(MONITOR_INTERVAL_S)
            n += 1
            if n % LAG_EVERY:
                continue
            try:
                hw, pos = await offsets()
                metrics.set_consumer_lag(consumer_lags(hw, pos))
                metrics.assigned.set(sum(1 for t, _ in hw if t == s.input_topic))
                metrics.ready.set(1.0 if readiness()[0] else 0.0)
            except Exception:  # the consumer is being replaced (rebalance, shutdown)
                pass
            view.sample_rates(metrics.value("streamer_events_total", outcome="processed") or 0,
                              metrics.value("streamer_events_total", outcome="dead_lettered")
                              or 0)
            for kind, size in view.sizes().items():
                metrics.view_entries.labels(kind=kind).set(size)
            metrics.set_structures({**proc.driver.sizes(),
                                    "prompt_cache": prompt_cache_stats()["size"]})
            stalled = health.stalled_batch()
            if stalled and stalled not in dumped:  # once per stall: where every task waits
                dumped.add(stalled)
                log.error("batch of agent %s stalled for over %.0f s; asyncio tasks:\n%s",
                          stalled, health.stall_s, task_stacks())
            elif not stalled:
                dumped.clear()

    @app.task
    async def start_monitor() -> None:
        await monitor()

    @app.task
    async def probe_loop_lag() -> None:
        stop_watching_gc = watch_gc(metrics)  # a collection holds the loop: time each one
        loopwatch.start(threading.get_ident())  # and a blocked loop logs where it is held
        try:
            await measure_loop_lag(metrics, on_wake=loopwatch.beat)
        finally:
            stop_watching_gc()
            loopwatch.stop()

    def json(body: Any, status: int = 200) -> Any:
        import orjson

        return aioweb.Response(body=orjson.dumps(body), status=status,
                               content_type="application/json")

    @app.page("/health")
    async def health_page(self: web.View, request: web.Request) -> Any:
        ok, body = await health_status()
        return json(body, 200 if ok else 503)

    @app.page("/ready")
    async def ready_page(self: web.View, request: web.Request) -> Any:
        ok, why = readiness()
        metrics.ready.set(1.0 if ok else 0.0)
        return json({"status": "ready" if ok else "not_ready", "detail": why,
                     "assigned": sorted(f"{tp.topic}:{tp.partition}" for tp in assignment())},
                    200 if ok else 503)

    @app.page("/metrics")
    async def metrics_page(self: web.View, request: web.Request) -> Any:
        return aioweb.Response(body=metrics.exposition(),
                               headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/stats")
    async def stats_page(self: web.View, request: web.Request) -> Any:
        return json({"events_processed": proc.processed, "invalid": proc.invalid,
                     "customers_cached": len(proc.cache),
                     "assigned": sorted(f"{tp.topic}:{tp.partition}" for tp in assignment()),
                     "batches": health.batches,
                     "event_loop_lag_s": round(metrics.loop_lag_last_s, 4),
                     "event_loop_lag_max_s": round(metrics.loop_lag_max(), 4),
                     "event_loop_lag_on_cpu_max_s": round(metrics.loop_lag_max(on_cpu=True), 4),
                     "event_loop_lag_window_s": LOOP_WINDOW_S,
                     "gc_pause_max_s": round(metrics.gc_pause_max(), 4),
                     "event_loop_stalls": loopwatch.stalls,
                     "gc_frozen_objects": frozen_objects(), **proc.stats(),
                     "faust_consumer_patch": faust_compat.consumer_patch_installed(),
                     **proc.quality.snapshot()})

    @app.page("/customers/{customer_id}")
    @app.table_route(table=states, match_info="customer_id")
    async def customer_page(self: web.View, request: web.Request, customer_id: str) -> Any:
        summary = proc.customer_summary(customer_id, lambda k: states.get(k.encode()))
        if summary is None:
            return json({"customer_id": customer_id, "events_processed": 0}, status=404)
        return json(summary)

    @app.page("/")
    async def index_page(self: web.View, request: web.Request) -> Any:
        data, ctype = pages["index.html"]
        return aioweb.Response(body=data, content_type=ctype, charset="utf-8")

    @app.page("/dashboard/{name}")
    async def static_page(self: web.View, request: web.Request, name: str) -> Any:
        if name not in pages:
            return json({"error": "not found"}, status=404)
        data, ctype = pages[name]
        return aioweb.Response(body=data, content_type=ctype, charset="utf-8")

    @app.page("/api/overview")
    async def overview_page(self: web.View, request: web.Request) -> Any:
        now = time.monotonic()
        if now - riskiest_cache["at"] >= 2.0:  # a scan of the live states, at most every 2 s
            riskiest_cache["at"] = now
            riskiest_cache["rows"] = riskiest(
                ((cid, st) for cid, (_, st) in proc.cache.items()))
        hw, pos = await offsets()
        lags = consumer_lags(hw, pos)
        return json(view.overview(riskiest_cache["rows"], {
            "events_processed": metrics.value("streamer_events_total", outcome="processed"),
            "dead_lettered": metrics.value("streamer_events_total", outcome="dead_lettered"),
            "duplicates": metrics.value("streamer_events_total", outcome="duplicate"),
            "alerts_emitted": metrics.total("streamer_alerts"),
            "consumer_lag": sum(lags.values()),
            "lag_by_partition": {f"{t}:{p}": v for (t, p), v in sorted(lags.items())},
            "customers_tracked": len(proc.cache),
            "event_loop_lag_s": round(metrics.loop_lag_last_s, 4),
            "worker": s.web_host + ":" + str(s.web_port),
        }))

    @app.page("/api/customers/{customer_id}/risk")
    async def risk_page(self: web.View, request: web.Request, customer_id: str) -> Any:
        return json({"customer_id": customer_id, "points": view.risk_history(customer_id)})

    class Login(web.View):  # type: ignore[misc]
        async def get(self, request: web.Request) -> Any:
            return aioweb.Response(body=LOGIN_FORM, content_type="text/html", charset="utf-8")

        async def post(self, request: web.Request) -> Any:
            form = await request.post()
            token = str(form.get("token", ""))
            if not authorized(s.web_token.get(), f"Bearer {token}", None):
                return aioweb.Response(body=LOGIN_FORM, status=401, content_type="text/html",
                                       charset="utf-8")
            resp = aioweb.HTTPSeeOther("/")
            resp.set_cookie(COOKIE, session_value(token), httponly=True, samesite="Strict")
            return resp

    app.page("/login")(Login)
    del health_page, ready_page, metrics_page, stats_page, customer_page, index_page
    del static_page, overview_page, risk_page, start_monitor, probe_loop_lag


def _state_stores(app: Any, s: Settings) -> dict[str, Callable[[], int]]:
    """Store name -> bytes on disk (RocksDB directories under the data dir; none for memory)."""
    if not s.store.startswith("rocksdb"):
        return {}
    return {"rocksdb": lambda: directory_bytes(app.conf.tabledir)}
