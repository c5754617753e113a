"""The operator dashboard in headless Chromium against a live worker fed by the simulator, and
the web exposure rules on that worker (token, Faust's table pages off).

The smoke scenario (``simulate("smoke", seed=0)``) is produced to the real broker; the page
must show a campaign account as an open alert with its reasons, contributions and baselines,
and no prompt text anywhere. The screenshot goes to ``reports/dashboard.png``.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamer.settings import Settings
from streamer.shell.supervise import WorkerProcess, topic_env
from streamer.shell.topics import ensure_topics
from streamer.sim import produce_to_kafka, simulate
from tests.ops_tools import require_tool

pytestmark = pytest.mark.kafka

TOKEN = "dash-" + uuid.uuid4().hex
REPORTS = Path(__file__).resolve().parents[2] / "reports"


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[WorkerProcess, Any]]:
    prefix = f"dash-{uuid.uuid4().hex[:8]}"
    env = {**topic_env(prefix), "STREAMER_STORE": "memory://", "STREAMER_WEB_TOKEN": TOKEN,
           "STREAMER_LOG_LEVEL": "warning"}
    settings = Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    ensure_topics(settings)
    worker = WorkerProcess(kafka_bootstrap, env, tmp_path_factory.mktemp("dash")).start()
    try:
        worker.wait_consuming(120)
        sim = simulate("smoke", seed=0)
        sent = produce_to_kafka(sim, kafka_bootstrap, settings.input_topic, speedup=None,
                                progress=False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            st = worker.stats()
            if st and st["events_processed"] >= sent:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"worker did not process {sent} events:\n{worker.log_tail()}")
        yield worker, sim
    finally:
        worker.stop()


def status(worker: WorkerProcess, path: str, token: str | None) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{worker.web_port}{path}",
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_token_protects_everything_but_health_and_ready(live: tuple[WorkerProcess, Any]
                                                        ) -> None:
    worker, sim = live
    cid = next(iter(sim.labels["customers"]))
    for path in ("/", "/metrics", "/stats", f"/customers/{cid}", "/api/overview"):
        assert status(worker, path, None) == 401, path
        assert status(worker, path, "wrong-" + TOKEN) == 401, path
        assert status(worker, path, TOKEN) == 200, path
    for path in ("/health", "/ready"):
        assert status(worker, path, None) == 200, path


def test_stats_show_the_event_loop_lag_and_the_longest_garbage_collection(
        live: tuple[WorkerProcess, Any]) -> None:
    """What an operator reads when the loop lags: its worst recent lag, and whether a
    garbage collection (which holds the loop) explains it."""
    import json

    worker, _ = live
    req = urllib.request.Request(f"http://127.0.0.1:{worker.web_port}/stats",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        stats = json.loads(resp.read())
    assert stats["gc_pause_max_s"] >= 0.0 and stats["event_loop_lag_max_s"] >= 0.0
    assert stats["gc_pause_max_s"] < 5.0 and stats["event_loop_stalls"] >= 0
    # start-up's objects were frozen out of the collector at the first batch
    assert stats["batches"] == 0 or stats["gc_frozen_objects"] > 10_000


def test_faust_table_and_router_pages_are_off(live: tuple[WorkerProcess, Any]) -> None:
    worker, sim = live
    cid = next(iter(sim.labels["customers"]))
    assert status(worker, f"/table/customer-state/{cid}", TOKEN) == 404
    assert status(worker, "/table/customer-state/", TOKEN) == 404
    assert status(worker, "/router/", TOKEN) == 404
    assert status(worker, "/graph/", TOKEN) == 404


def test_dashboard_in_chromium_shows_the_attack_without_prompt_text(
        live: tuple[WorkerProcess, Any]) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    worker, sim = live
    campaign = next(iter(sim.labels["campaigns"].values()))
    attackers = set(campaign["accounts"])
    prompts = {e["prompt"] for e in sim.events() if isinstance(e.get("prompt"), str)
               and len(e["prompt"]) >= 24}
    base = f"http://127.0.0.1:{worker.web_port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            # a browser cannot send a bearer header: it signs in once, the cookie does the rest
            page.goto(base + "/")
            assert page.url == base + "/login"  # no cookie yet: sent to the sign-in form
            page.fill("input[name=token]", "wrong-" + TOKEN)
            page.click("button[type=submit]")
            assert page.locator("input[name=token]").count() == 1  # refused, form again
            page.goto(base + "/login")
            page.fill("input[name=token]", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            cookies = page.context.cookies()
            assert cookies and all(c["value"] != TOKEN and c["httpOnly"] for c in cookies)
            page.wait_for_selector("#alerts-body .alert", timeout=30_000)
            page.wait_for_function(
                "document.querySelector('#chart path') !== null", timeout=15_000)
            cards = page.locator("#alerts-body .alert")
            shown = {cards.nth(i).get_attribute("data-customer") for i in range(cards.count())}
            assert shown & attackers, (shown, attackers)
            first = sorted(shown & attackers)[0]
            card = page.locator(f"#alerts-body .alert[data-customer='{first}']")
            text = card.inner_text()
            for column in ("signal", "value", "baseline", "contribution"):
                assert column in text
            assert "cot_rate" in text or "harvest_rate" in text or "mean_log_output" in text
            riskiest = page.locator("#riskiest-body tr").first.get_attribute("data-customer")
            assert riskiest in attackers, riskiest
            assert float(page.inner_text("#t-proc").replace(",", "")) >= len(sim)
            body = page.inner_text("body")
            leaked = [pr for pr in prompts if pr in body or pr[:40] in body]
            assert not leaked, leaked[:3]
            assert "Think step by step" not in page.content()
            REPORTS.mkdir(exist_ok=True)
            page.screenshot(path=str(REPORTS / "dashboard.png"), full_page=True)
            # everything the page loaded came from the worker itself
            assert requests and all(u.startswith(base) for u in requests), requests
        finally:
            browser.close()
    assert (REPORTS / "dashboard.png").stat().st_size > 10_000


def test_customer_page_routes_to_the_owning_worker(kafka_bootstrap: str,
                                                   tmp_path: Path) -> None:
    """Two workers of one group; each answers for every customer, the other's included, by
    forwarding to the owner's advertised host (``STREAMER_WEB_HOST=localhost``), while both
    listen on ``STREAMER_WEB_BIND=127.0.0.1``. The token travels with the forwarded request."""
    import orjson
    from kafka import KafkaProducer

    prefix = f"route-{uuid.uuid4().hex[:8]}"
    env = {**topic_env(prefix), "STREAMER_STORE": "rocksdb://", "STREAMER_WEB_TOKEN": TOKEN,
           "STREAMER_WEB_HOST": "localhost", "STREAMER_WEB_BIND": "127.0.0.1",
           "STREAMER_LOG_LEVEL": "warning"}
    settings = Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    ensure_topics(settings)
    workers = [WorkerProcess(kafka_bootstrap, env, tmp_path / name).start()
               for name in ("a", "b")]
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # both own input partitions (the group settled)
            owned = []
            for w in workers:
                w.check_alive()
                st = w.stats()
                owned.append({a for a in (st or {}).get("assigned", [])
                              if a.startswith(settings.input_topic + ":")})
            if all(owned) and not owned[0] & owned[1] and len(owned[0] | owned[1]) == 4:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the group did not settle: {owned}")
        customers = [f"cus_route_{i}" for i in range(12)]
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        for i, cid in enumerate(customers):
            for j in range(i % 3 + 1):
                producer.send(settings.input_topic, key=cid.encode(), value=orjson.dumps({
                    "event_id": f"{cid}-{j}", "ts": 1_772_400_000_000 + j * 1000,
                    "customer_id": cid, "model": "m", "input_tokens": 10,
                    "output_tokens": 20}))
        producer.flush(30)
        producer.close()
        for w in workers:
            assert status(w, f"/customers/{customers[0]}", None) == 401
        for i, cid in enumerate(customers):
            want = i % 3 + 1
            for w in workers:
                deadline = time.monotonic() + 60
                body: dict[str, Any] = {}
                while time.monotonic() < deadline:
                    code, body = w.get(f"/customers/{cid}")
                    if code == 200 and body.get("events_processed") == want:
                        break
                    time.sleep(0.3)
                assert body.get("events_processed") == want, (cid, w.web_port, body)
        # each worker holds only its own customers, yet answered for all of them: routed
        cached = [int((w.stats() or {})["customers_cached"]) for w in workers]
        assert sum(cached) == len(customers) and all(cached), cached
        # the RocksDB store's size on disk is exported
        code, text = 0, ""
        req = urllib.request.Request(f"http://127.0.0.1:{workers[0].web_port}/metrics",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            code, text = int(resp.status), resp.read().decode()
        line = next(x for x in text.splitlines() if x.startswith("streamer_state_bytes{"))
        assert code == 200 and float(line.rsplit(" ", 1)[1]) > 0, line
    finally:
        for w in workers:
            w.stop()
