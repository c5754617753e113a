"""A small deterministic input generator for the fault tests (no simulator, no randomness left).

:func:`make_stream` returns the records to produce (key = customer id, JSON value matching
:mod:`streamer.core.events`) together with what a correct worker must end up with: the number
of *distinct* events per customer. Event time increases through the stream; a few records are
deliberate re-sends of an earlier ``event_id`` (which must not count).

Campaign customers are an obvious chain-of-thought extraction: long answers near a large
``max_tokens``, "Think step by step…" math prompts, an account created the same day, one
request every 2 s of event time — so alerts are guaranteed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson

START_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z
CAMPAIGN_GAP_MS = 2_000

_ASKS = (
    "can you suggest a name for my bakery", "translate good morning to french",
    "what is a good stretching routine", "summarise the plot of hamlet briefly",
    "how do I fix a squeaky door", "recommend a sci-fi book", "what is a roth ira",
    "why is the sky blue", "plan a weekend in lisbon", "what should I cook tonight",
    "help me word a birthday card", "is it going to rain in spring",
)
_SUBJECTS = ("apples", "trains", "tanks", "coins", "marbles", "workers", "pages", "boxes")


@dataclass
class Stream:
    """Records in produce order plus the exact expected outcome."""

    records: list[tuple[bytes, bytes]] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)  # customer -> distinct events
    duplicates: dict[str, int] = field(default_factory=dict)  # customer -> re-sent records
    campaigns: list[str] = field(default_factory=list)
    last_ts_ms: int = START_MS

    @property
    def customers(self) -> list[str]:
        return sorted(self.expected)

    def __len__(self) -> int:
        return len(self.records)

    def head(self, n: int) -> Stream:
        """The first ``n`` records, with the expected outcome of only those."""
        part = Stream(records=self.records[:n], campaigns=self.campaigns)
        seen: dict[str, set[str]] = {}
        for key, value in part.records:
            cid, eid = key.decode(), orjson.loads(value)["event_id"]
            ids = seen.setdefault(cid, set())
            if eid in ids:
                part.duplicates[cid] = part.duplicates.get(cid, 0) + 1
            ids.add(eid)
        part.expected = {cid: len(ids) for cid, ids in seen.items()}
        return part


def ordinary_event(cid: str, k: int, ts_ms: int, rng: random.Random) -> dict[str, object]:
    return {
        "event_id": f"{cid}-{k}", "ts": ts_ms, "customer_id": cid, "model": "atlas-2",
        "input_tokens": rng.randint(12, 90), "output_tokens": rng.randint(40, 400),
        "temperature": 0.7,
        "prompt": f"{_ASKS[rng.randrange(len(_ASKS))]} ({k})",
        "account": {"created_at": "2024-01-10T00:00:00Z", "signup_channel": "self_serve"},
    }


def campaign_event(cid: str, k: int, ts_ms: int) -> dict[str, object]:
    s = _SUBJECTS
    return {
        "event_id": f"{cid}-{k}", "ts": ts_ms, "customer_id": cid, "model": "atlas-2",
        "input_tokens": 120, "output_tokens": 1450 + k % 50, "max_tokens": 2000,
        "temperature": 0.7,
        "prompt": (f"Think step by step and explain your reasoning: {s[k % 8]} problem {k}: if "
                   f"{k} {s[(k * 3) % 8]} cost {k * 7} dollars and {s[(k * 5) % 8]} weigh "
                   f"{k % 13} kilos, {'how many' if k % 2 else 'what fraction'} remain after "
                   f"{k % 4} days?"),
        "account": {"created_at": START_MS - 3_600_000, "signup_channel": "free_trial"},
        "client": {"asn": "AS9009", "tls_fingerprint": "771,4865-4866,0-23"},
    }


def make_stream(n_events: int, n_customers: int, *, n_campaigns: int = 1, seed: int = 7,
                step_ms: int = 40, dup_every: int = 997, tag: str = "c",
                gap_at: int | None = None, gap_ms: int = 150 * 60_000) -> Stream:
    """``n_events`` records (duplicates included) over ``n_customers`` ordinary customers plus
    ``n_campaigns`` campaign customers; event time advances ``step_ms`` per record.

    With ``gap_at``, event time jumps by ``gap_ms`` (longer than the alert quiet period) at that
    record ("overnight"); the campaigns pause from 500 records before the gap until 2,500
    records after it, so their first episode resolves and a second one opens."""
    rng = random.Random(seed)
    out = Stream()
    ordinary = [f"cus_{tag}{i:05d}" for i in range(n_customers)]
    campaigns = [f"cus_{tag}campaign{j}" for j in range(n_campaigns)]
    out.campaigns = campaigns
    count: dict[str, int] = {}
    sent: dict[str, list[bytes]] = {}
    every = max(1, CAMPAIGN_GAP_MS // step_ms)
    # every ordinary customer gets at least one event: the first n_customers slots go round-robin
    for i in range(n_events):
        ts = START_MS + i * step_ms + (gap_ms if gap_at is not None and i >= gap_at else 0)
        paused = gap_at is not None and gap_at - 500 <= i < gap_at + 2_500
        if campaigns and i % every == every // 2 and not paused:
            cid = campaigns[(i // every) % len(campaigns)]
        elif i and i % dup_every == 0 and sent:
            # re-send one of the last events of a recent customer, same event_id and bytes
            cid = ordinary[rng.randrange(min(len(ordinary), max(1, i // 2)))]
            if campaigns and i % (2 * dup_every) == 0 and not paused:
                cid = campaigns[0]
            if sent.get(cid):
                value = sent[cid][-1 - rng.randrange(min(3, len(sent[cid])))]
                out.records.append((cid.encode(), value))
                out.duplicates[cid] = out.duplicates.get(cid, 0) + 1
                continue
            cid = ordinary[i % len(ordinary)]
        elif i < n_customers:
            cid = ordinary[i]
        else:
            cid = ordinary[rng.randrange(len(ordinary))]
        k = count.get(cid, 0)
        count[cid] = k + 1
        ev = (campaign_event(cid, k, ts) if cid in campaigns
              else ordinary_event(cid, k, ts, rng))
        value = orjson.dumps(ev)
        hist = sent.setdefault(cid, [])
        hist.append(value)
        if len(hist) > 8:
            del hist[0]
        out.records.append((cid.encode(), value))
        out.last_ts_ms = ts
    out.expected = count
    return out


def small_stream(n_events: int, n_customers: int, *, tag: str = "s",
                 step_ms: int = 5) -> Stream:
    """``n_events`` minimal events (no prompt) round-robin over ``n_customers``: cheap to
    produce and to process, for load tests."""
    out = Stream()
    count: dict[str, int] = {}
    ids = [f"cus_{tag}{i:05d}" for i in range(n_customers)]
    keys = [cid.encode() for cid in ids]
    for i in range(n_events):
        c = (i * 7919) % n_customers
        cid = ids[c]
        k = count.get(cid, 0)
        count[cid] = k + 1
        out.records.append((keys[c], orjson.dumps({
            "event_id": f"{cid}-{k}", "ts": START_MS + i * step_ms, "customer_id": cid,
            "model": "atlas-2", "input_tokens": 10 + i % 40, "output_tokens": 20 + i % 200})))
    out.expected = count
    out.last_ts_ms = START_MS + (n_events - 1) * step_ms
    return out
