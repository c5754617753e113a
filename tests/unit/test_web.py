"""The web layer without a broker: auth on a real aiohttp server, health judgement, the
dashboard's bounded view and its self-contained page."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp import ClientSession, web

from streamer.settings import Settings
from streamer.shell.dashboard import STATIC_FILES, OpsView, static_file
from streamer.shell.web import (
    COOKIE,
    OPEN_PATHS,
    Health,
    auth_middleware,
    session_value,
    web_conf,
)


async def _serve_and_get(token: str, requests: list[tuple[str, dict[str, str]]],
                         follow: bool = True) -> list[int]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    app = web.Application(middlewares=[auth_middleware(token)])
    for path in ("/health", "/ready", "/metrics", "/", "/customers/{cid}"):
        app.router.add_get(path, ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with ClientSession() as session:
            out = []
            for path, headers in requests:
                async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers,
                                       allow_redirects=follow) as r:
                    out.append(r.status)
                    if r.status == 401:
                        assert r.headers["WWW-Authenticate"].startswith("Bearer")
            return out
    finally:
        await runner.cleanup()


def test_token_required_except_health_and_ready() -> None:
    good = {"Authorization": "Bearer s3cret"}
    wrong = {"Authorization": "Bearer s3cres"}
    cookie = {"Cookie": f"{COOKIE}={session_value('s3cret')}"}
    raw_cookie = {"Cookie": f"{COOKIE}=s3cret"}  # the token itself is not a session
    reqs = [("/health", {}), ("/ready", {}), ("/metrics", {}), ("/", {}),
            ("/customers/c1", {}), ("/metrics", wrong), ("/metrics", good), ("/", good),
            ("/customers/c1", good), ("/", cookie), ("/metrics", {"Authorization": "s3cret"}),
            ("/", raw_cookie)]
    got = asyncio.run(_serve_and_get("s3cret", reqs))
    assert got == [200, 200, 401, 401, 401, 401, 200, 200, 200, 200, 401, 401]


def test_no_token_means_open() -> None:
    got = asyncio.run(_serve_and_get("", [("/metrics", {}), ("/", {})]))
    assert got == [200, 200]


def test_a_browser_without_the_token_is_sent_to_the_login_form() -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    got = asyncio.run(_serve_and_get("s3cret", [("/", html), ("/metrics", html)],
                                     follow=False))
    assert got == [303, 401]


def test_web_conf_turns_faust_pages_off_and_separates_bind_from_host() -> None:
    s = Settings.from_env({"STREAMER_WEB_HOST": "worker-1.streamer.svc",
                           "STREAMER_WEB_BIND": "0.0.0.0", "STREAMER_WEB_PORT": "7000"})
    conf = web_conf(s)
    assert conf["web_bind"] == "0.0.0.0" and conf["web_host"] == "worker-1.streamer.svc"
    assert conf["web_port"] == 7000
    for page in ("web_tables_enabled", "web_router_enabled", "web_stats_enabled",
                 "web_graph_enabled"):
        assert conf[page] is False
    assert Settings().web_bind == "127.0.0.1"
    assert {"/health", "/ready", "/login"} == OPEN_PATHS


def test_faust_app_serves_neither_table_nor_router_pages() -> None:
    """The settings reach Faust: its web server registers none of its own blueprints."""
    import faust

    s = Settings.from_env({"STREAMER_WEB_HOST": "w-1.streamer-headless",
                           "STREAMER_WEB_BIND": "0.0.0.0"})
    app = faust.App("t-web-conf", **web_conf(s))
    enabled = [prefix for prefix, _ in app.web.blueprints._enabled]
    assert "/table" not in enabled and "/router" not in enabled and "/graph" not in enabled
    # table routing forwards to the advertised host; the server listens on the bind address
    assert app.conf.canonical_url.host == "w-1.streamer-headless"
    assert app.conf.web_bind == "0.0.0.0"


def test_token_is_a_secret_in_repr() -> None:
    s = Settings.from_env({"STREAMER_WEB_TOKEN": "hunter2-token"})
    assert s.web_token.get() == "hunter2-token" and "hunter2-token" not in repr(s)


def test_health_stalls_on_a_wedged_batch_and_on_waiting_records() -> None:
    now = [0.0]
    h = Health(stall_s=5.0, clock=lambda: now[0])
    h.begin("detect")
    now[0] = 4.0
    assert h.stalled_batch() is None
    now[0] = 6.0
    assert h.stalled_batch() == "detect"
    h.beat("detect", [("in", 0, 99), ("in", 0, 50)])
    assert h.stalled_batch() is None and h.processed[("in", 0)] == 99
    # caught up: nothing waits, whatever the idle time
    now[0] = 100.0
    assert h.idle_for() == 94.0
    assert h.waiting({("in", 0): 100}, {("in", 0): 100}) == []
    # a new record beyond the processed offset waits, even if the consumer fetched it
    assert h.waiting({("in", 0): 101}, {("in", 0): 101}) == [("in", 0)]
    # unknown highwater (nothing fetched yet) is not evidence of waiting
    assert h.waiting({("in", 1): None}, {("in", 1): 0}) == []


def alert(cid: str, status: str, risk: float, ts: int, cluster: str | None = None
          ) -> dict[str, Any]:
    return {"alert_id": f"xr_{cid}", "customer_id": cid, "status": status, "risk": risk,
            "severity": "high", "detected_at_ms": ts, "detected_at": "t", "tactics": ["t"],
            "reasons": [{"signal": "cot_rate", "value": 1.0, "baseline": 0.1,
                         "contribution": 2.0, "description": "d", "extra": "dropped"}],
            "cluster": None if cluster is None else {"cluster_id": cluster, "members": [cid],
                                                    "shared": ["asn:1"]}}


def test_ops_view_is_bounded_and_drops_resolved_alerts() -> None:
    v = OpsView(max_alerts=3, max_customers=4, history_points=5)
    for i in range(10):
        v.record_alerts([alert(f"c{i}", "open", 0.5 + i / 100, 1000 * i,
                               cluster="k1" if i % 2 else None)])
    assert list(v.open_alerts) == ["c7", "c8", "c9"]
    assert len(v.history) == 4
    v.record_alerts([alert("c9", "resolved", 0.0, 99_000)])
    assert "c9" not in v.open_alerts and len(v.history) == 4
    for t in range(20):
        v.record_risk("c8", 10_000 + t, 0.9)
    assert len(v.history["c8"]) == 5
    v.record_risk("quiet", 1, 0.01)  # below the floor: not tracked
    assert "quiet" not in v.history
    over = v.overview([], {"events_processed": 1})
    assert [c["cluster_id"] for c in over["clusters"]] == ["k1"]
    card = over["open_alerts"][0]
    assert set(card["reasons"][0]) == {"signal", "value", "baseline", "contribution",
                                       "description"}
    assert v.sizes()["open_alerts"] == 2


@pytest.mark.parametrize("name", STATIC_FILES)
def test_dashboard_page_loads_nothing_from_outside(name: str) -> None:
    data, ctype = static_file(name)
    text = data.decode()
    assert ctype.startswith(("text/", "application/javascript"))
    # the only absolute URL allowed is the SVG namespace identifier (never fetched)
    urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "innerHTML" not in text  # worker data is inserted as text only


def test_a_stalled_batch_can_be_told_from_its_await_chain() -> None:
    """What the monitor logs once when a batch stalls: each task's chain of awaits."""
    import asyncio

    from streamer.shell.web import task_stacks

    async def flush_forever(ev: asyncio.Event) -> None:
        await ev.wait()

    async def detect_batch(ev: asyncio.Event) -> None:
        await flush_forever(ev)

    async def main() -> str:
        ev = asyncio.Event()
        task = asyncio.create_task(detect_batch(ev), name="detect")
        await asyncio.sleep(0)
        try:
            return task_stacks()
        finally:
            task.cancel()

    dump = asyncio.run(main())
    line = next(x for x in dump.splitlines() if x.strip().startswith("detect:"))
    assert "detect_batch" in line and "flush_forever" in line and "wait" in line
    assert line.index("detect_batch") < line.index("flush_forever")
