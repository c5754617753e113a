"""Bench outputs: the rich table, ``reports/bench/*.json``, the plot and the README table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
CONSUMERS = (
    ("raw", "raw aiokafka consumer + orjson (client ceiling)"),
    ("faust_noop", "no-op Faust agent, take(500) + orjson (framework ceiling)"),
    ("worker", "streamer worker, full detection"),
    ("quix", "Quix Streams app, same pure core (peer)"),
    ("offline", "offline core, full detection (CPU time, one core, steady state)"),
)


def _rate(result: dict[str, Any], key: str) -> float | None:
    section = result.get(key)
    if not isinstance(section, dict) or "events_per_s" not in section:
        return None
    return float(section["events_per_s"])


def throughput_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(consumer, events/s, ratio to the raw ceiling, ratio to the no-op Faust agent)."""
    raw, noop = _rate(result, "raw"), _rate(result, "faust_noop")
    rows = []
    for key, label in CONSUMERS:
        rate = _rate(result, key)
        if rate is None:
            reason = (result.get(key) or {}).get("skipped", "not run")
            rows.append((label, f"— ({reason})", "", ""))
            continue
        rows.append((label, f"{rate:,.0f}", f"{rate / raw:.3f}" if raw else "",
                     f"{rate / noop:.2f}" if noop else ""))
    return rows


#: A run shorter than the worker's lag window after start-up has no steady-state sample.
_NO_LAG = "no sample (the run ended within the worker's 10 s lag window after start-up)"


def rounds_row(result: dict[str, Any]) -> tuple[str, str] | None:
    """Each throughput run's events/s, round by round, and the worker ÷ no-op ratio of each
    round (the table gives the medians); ``None`` for a single round."""
    per = {key: (result.get(key) or {}).get("rounds_events_per_s") or []
           for key in ("faust_noop", "worker", "quix")}
    n = max(len(v) for v in per.values())
    if n < 2:
        return None
    cells = []
    for i in range(n):
        got = {k: v[i] for k, v in per.items() if i < len(v)}
        ratio = (f", worker ÷ no-op {got['worker'] / got['faust_noop']:.2f}"
                 if got.get("worker") and got.get("faust_noop") else "")
        cells.append(f"{i + 1}: " + " / ".join(f"{got[k]:,.0f}" if k in got else "—"
                                                for k in ("faust_noop", "worker", "quix"))
                     + ratio)
    return (f"throughput runs in {n} interleaved rounds, events/s of no-op / worker / Quix "
            "(the table above: each one's median)", "; ".join(cells))


def other_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    rounds = rounds_row(result)
    if rounds:
        rows.append(rounds)
    for lat in result.get("latency", []):
        value = f"p50 {lat['p50_ms']:,.0f} ms / p99 {lat['p99_ms']:,.0f} ms"
        if "emitted_p99_ms" in lat:
            value += (f" (to `emitted_at`: p50 {lat['emitted_p50_ms']:,.0f} / "
                      f"p99 {lat['emitted_p99_ms']:,.0f} ms)")
        rows.append((f"event→alert latency at {lat['load']:.0%} of the worker's max "
                     f"({lat['achieved_rate']:,.0f} ev/s, {lat['alerts']} alerts; produced → "
                     "received by a consumer of the alerts topic)", value))
    loops = [(name, section) for name, section in
             [("throughput run", result.get("worker") or {})]
             + [(f"{lat['load']:.0%} load", lat) for lat in result.get("latency", [])]
             if "loop_lag_max_ms" in section]
    if loops:
        rows.append(("worst event-loop lag of the worker, start-up left out (`/stats`; limit "
                     "100 ms): wall / of which the loop's thread was running",
                     ", ".join(f"{name} {sec['loop_lag_max_ms']:,.0f} / "
                               f"{sec.get('loop_lag_on_cpu_max_ms', 0):,.0f} ms"
                               if sec.get("loop_lag_samples", 1) else f"{name} {_NO_LAG}"
                               for name, sec in loops)))
        rows.append(("longest garbage collection in the worker, same runs (`/stats`)",
                     ", ".join(f"{name} {sec.get('gc_pause_max_ms', 0):,.0f} ms"
                               if sec.get("loop_lag_samples", 1) else f"{name} {_NO_LAG}"
                               for name, sec in loops)))
    state = result.get("state") or {}
    if state:
        rows.append(("encoded state per customer (p50 / p99 / max)",
                     f"{state['state_bytes_p50']:,} / {state['state_bytes_p99']:,} / "
                     f"{state['state_bytes_max']:,} B (budget 20,000)"))
        for rss in state.get("rss", {}).values():
            rows.append((f"RSS per customer, {rss['customers']:,} customers held (offline core)",
                         f"{rss['rss_bytes_per_customer']:,.0f} B "
                         f"({rss['rss_delta_bytes'] / 1e6:,.0f} MB)"))
    w = result.get("worker") or {}
    if "rss_bytes" in w:
        rows.append((f"worker RSS after the throughput run ({w.get('customers', 0):,} customers)",
                     f"{w['rss_bytes'] / 1e6:,.0f} MB"))
    rec = result.get("recovery") or {}
    if "kill9_to_first_processed_s" in rec:
        rows.append(("recovery: kill -9, restart → first processed event / caught up",
                     f"{rec['kill9_to_first_processed_s']:.1f} s / "
                     f"{rec['kill9_to_caught_up_s']:.1f} s"))
    two = result.get("two_workers") or {}
    if "events_per_s" in two and _rate(result, "worker"):
        rows.append(("2 workers vs 1 on 4 partitions (events/s)",
                     f"{two['events_per_s']:,.0f} vs {_rate(result, 'worker'):,.0f} "
                     f"({two['events_per_s'] / (_rate(result, 'worker') or 1):.2f}x)"))
    off = result.get("offline") or {}
    if "events_per_s_cold" in off:
        rows.append(("offline core: cold (first replay in the process, another seed) / steady "
                     "/ batches of 500 with their prompts prefetched (events/s)",
                     f"{off['events_per_s_cold']:,.0f} / {off['events_per_s']:,.0f} / "
                     f"{off.get('events_per_s_batched', 0):,.0f}"))
    for name, us in (off.get("steps_us") or {}).items():
        rows.append((f"offline step: {name.removesuffix('_us').replace('_', ' ')}",
                     f"{us:,.1f} µs/event"))
    return rows


def print_table(result: dict[str, Any], console: Console) -> None:
    t = Table("consumer", "events/s", "÷ raw ceiling", "÷ no-op Faust",
              title=f"make bench — {result.get('events', 0):,} events of "
                    f"~{result.get('mean_event_bytes', 0):,.0f} B, {result.get('partitions')} "
                    "partitions, one run")
    for row in throughput_rows(result):
        t.add_row(*row)
    console.print(t)
    t2 = Table("measure", "value", title="latency, state, recovery, scaling, offline steps")
    for name, value in other_rows(result):
        t2.add_row(name, value)
    console.print(t2)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "_Generated by `make bench` (`python -m streamer.bench`); do not edit by hand._",
        "",
        f"One run on this machine ({result.get('machine', '')}"
        + (f"; the throughput runs in {result['rounds']} interleaved rounds, their medians"
           if result.get("rounds", 1) > 1 else "") + "): "
        f"{result.get('events', 0):,} simulator events of ~{result.get('mean_event_bytes', 0):,.0f}"
        f" bytes on a fresh {result.get('partitions')}-partition topic per consumer"
        f" (the worker, Quix and 2-worker runs on the first {result.get('worker_events', 0):,})"
        f"{' (quick mode)' if result.get('quick') else ''}. Commands: `make bench`.",
        "",
        "| consumer | events/s | ÷ raw ceiling | ÷ no-op Faust |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in throughput_rows(result)]
    lines += ["", "| measure | value |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in other_rows(result)]
    hot = result.get("hotspots") or {}
    if hot.get("by_package"):
        lines += ["", "Worker under load, py-spy samples by innermost package "
                  "(`reports/bench/worker-flamegraph.svg`): "
                  + ", ".join(f"{k} {v:.0%}" for k, v in hot["by_package"][:8]) + "."]
    return "\n".join(lines)


def splice_readme(readme: Path, body: str) -> None:
    """Replace the text between the bench markers of ``readme`` (append the section if absent)."""
    text = readme.read_text()
    block = f"{START}\n{body}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Benchmark\n\n" + block + "\n"
    readme.write_text(text)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, rates = [], []
    for key, label in CONSUMERS:
        rate = _rate(result, key)
        if rate is not None:
            labels.append(label.split(",")[0].split(" (")[0])
            rates.append(rate)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bars = ax.barh(labels[::-1], rates[::-1], color="#4c72b0")
    ax.set_xscale("log")
    ax.set_xlabel("events/s (log scale)")
    ax.set_title(f"make bench: {result.get('events', 0):,} events, one run")
    for bar, rate in zip(bars, rates[::-1], strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {rate:,.0f}",
                va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(result: dict[str, Any], out: Path) -> list[Path]:
    """``out/bench.json`` (everything) and one JSON file per section; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "bench.json"]
    paths[0].write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    for key, value in result.items():
        if isinstance(value, dict | list) and value and key != "parts":
            p = out / f"{key}.json"
            p.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))
            paths.append(p)
    return paths
