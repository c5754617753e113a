"""Who sends the red-team traffic and when: accounts, client stacks, networks, pacing, events.

Every random choice comes from a generator keyed by the run seed and a component name
(:func:`rng`), hashed with :mod:`hashlib`, so output never depends on ``PYTHONHASHSEED``.

>>> a = make_account(rng(1, "x"), 1_772_409_600_000, "cus", age_days=3.0, channel="free_trial",
...                  network="residential", keys=2)
>>> a.customer_id.startswith("cus_"), len(a.api_keys), a.account["signup_channel"]
(True, 2, 'free_trial')
>>> ts = arrivals(rng(1, "p"), 0, 3_600_000, 120.0, "machine")
>>> 90 < len(ts) < 150 and ts == sorted(ts)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from streamer.sim.identity import ts_string

T = TypeVar("T")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

#: Networks by kind (public ASN registrations). Cloud: where API backends and scripts run.
NETWORKS: dict[str, tuple[str, ...]] = {
    "cloud": ("AS16509", "AS15169", "AS8075", "AS14061", "AS24940", "AS16276", "AS45102",
              "AS20473", "AS63949", "AS132203"),
    "residential": ("AS7922", "AS701", "AS7018", "AS3320", "AS3215", "AS2856", "AS4134",
                    "AS4837", "AS9808", "AS17676", "AS6830", "AS5089"),
    "mobile": ("AS21928", "AS22394", "AS24560", "AS9498", "AS56040"),
    "proxy": ("AS9009", "AS60068", "AS212238", "AS13335", "AS53667"),
    "corporate": ("AS3356", "AS1299", "AS6939", "AS174", "AS2914"),
}
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "KR", "SG", "CN", "HK", "CA", "AU",
             "NL", "VN", "PL", "ES", "MX", "TW", "IL")
#: Client software stacks: (user agent, TLS library family).
STACKS: tuple[tuple[str, str], ...] = (
    ("openai-python/1.{v}.0", "openssl3"), ("OpenAI/NodeJS/4.{v}.1", "node"),
    ("python-httpx/0.2{d}.0", "openssl3"), ("python-requests/2.3{d}.0", "openssl1"),
    ("aiohttp/3.{v}.2", "openssl3"), ("Go-http-client/2.0", "go"), ("curl/8.{d}.1", "curl"),
    ("okhttp/4.1{d}.0", "android"), ("litellm/1.{v}.3", "openssl3"),
    ("langchain-openai/0.{d}.2", "openssl3"), ("Java-http-client/17.0.{v}", "java"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/12{d}.0 Safari/537.36", "chrome"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_{d}) Safari/605.1.15", "safari"),
)
CHANNELS = ("self_serve", "free_trial", "sales", "partner", "marketplace", "startup_credits",
            "education", "referral")


def digest(*parts: object, n: int = 16) -> str:
    """``n`` hex characters of a keyed hash of ``parts``."""
    h = hashlib.blake2b("\x1e".join(map(str, parts)).encode("utf-8"), digest_size=32,
                        key=b"streamer-redteam")
    return h.hexdigest()[:n]


def rng(seed: int, *parts: object) -> np.random.Generator:
    """An independent random stream for one component of one run."""
    key = int(digest(*parts, n=32), 16)
    return np.random.default_rng([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF,
                                  key & (2**64 - 1), key >> 64])


def choice(r: np.random.Generator, items: Sequence[T], p: Sequence[float] | None = None) -> T:
    """One element of a sequence (``p``: optional weights, normalised here)."""
    if p is not None:
        w = np.asarray(p, dtype=float)
        return items[int(r.choice(len(items), p=w / w.sum()))]
    return items[int(r.integers(0, len(items)))]


def log_uniform(r: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(r.uniform(np.log(lo), np.log(hi))))


@dataclass(slots=True)
class Client:
    ip: str
    asn: str
    user_agent: str
    tls_fingerprint: str

    def to_dict(self) -> dict[str, str]:
        return {"ip": self.ip, "asn": self.asn, "user_agent": self.user_agent,
                "tls_fingerprint": self.tls_fingerprint}


def make_client(r: np.random.Generator, network: str, stack: tuple[str, str] | None = None,
                asn: str | None = None) -> Client:
    """A client: an address in a network of ``network`` kind, a software stack, its TLS hash."""
    asn = asn or choice(r, NETWORKS[network])
    ua, tls = stack or choice(r, STACKS)
    ua = ua.replace("{v}", str(int(r.integers(10, 60)))).replace("{d}", str(int(r.integers(0, 9))))
    ip = ".".join(str(int(x)) for x in (r.integers(11, 223), *r.integers(0, 256, 2),
                                        r.integers(1, 255)))
    return Client(ip, asn, ua, "t" + digest("tls", tls, ua.split("/")[0], n=24))


@dataclass(slots=True)
class Account:
    """One billed account: its id, account metadata, clients, API keys and system prompts."""

    customer_id: str
    account: dict[str, Any]
    clients: list[Client]
    api_keys: list[str]
    system_prompts: list[str | None] = field(default_factory=lambda: [None])


def make_account(r: np.random.Generator, now_ms: int, salt: str, *, age_days: float,
                 channel: str, network: str, keys: int = 1, clients: int = 1,
                 country: str | None = None, payment: str | None = None,
                 stack: tuple[str, str] | None = None) -> Account:
    """A fresh account created ``age_days`` before ``now_ms``."""
    cid = "cus_" + digest(salt, "customer", float(r.random()), n=12)
    created = int(now_ms - age_days * DAY_MS - r.integers(0, 3_600_000))
    account = {
        "created_at": ts_string(created),
        "payment_fingerprint": payment or "pm_" + digest(cid, "pay", n=14),
        "country": country or choice(r, COUNTRIES),
        "signup_channel": channel,
    }
    cls = [make_client(r, network, stack) for _ in range(max(1, clients))]
    api = ["key_" + digest(cid, "key", i, n=10) for i in range(max(1, keys))]
    return Account(cid, account, cls, api)


# ----------------------------------------------------------------------------- pacing

PACINGS = ("machine", "poisson", "human", "bursty")


def arrivals(r: np.random.Generator, start_ms: int, end_ms: int, rate_per_hour: float,
             pacing: str, *, limit: int | None = None) -> list[int]:
    """Request times in ``[start_ms, end_ms)`` at about ``rate_per_hour`` on average.

    * ``machine``: near-regular gaps (gamma, coefficient of variation 0.05 to 0.3);
    * ``poisson``: exponential gaps;
    * ``human``: sessions of a few to a few dozen requests with think times of seconds to
      minutes, separated by long breaks (a person, or a script imitating one);
    * ``bursty``: dense bursts (a job) separated by idle periods.
    """
    span = end_ms - start_ms
    if span <= 0 or rate_per_hour <= 0:
        return []
    expected = rate_per_hour * span / HOUR_MS
    mean_gap = HOUR_MS / rate_per_hour
    out: list[float] = []
    if pacing == "machine":
        cv = r.uniform(0.05, 0.3)
        k = 1.0 / cv**2
        n = int(expected * 1.3) + 5
        gaps = r.gamma(k, mean_gap / k, n)
        t = start_ms + float(r.uniform(0, mean_gap))
        for g in gaps:
            if t >= end_ms:
                break
            out.append(t)
            t += float(g)
    elif pacing == "poisson":
        n = int(r.poisson(expected))
        out = sorted(r.uniform(start_ms, end_ms, n).tolist())
    elif pacing in ("human", "bursty"):
        t = start_ms + float(r.uniform(0, min(span, mean_gap * 3)))
        per_session = r.uniform(4, 30) if pacing == "human" else r.uniform(40, 200)
        per_session = min(per_session, max(1.0, expected / 4))  # several sessions a window
        think = (r.uniform(6_000, 60_000) if pacing == "human" else r.uniform(200, 2_000))
        think = min(think, 0.5 * mean_gap)  # within a session faster than on average
        sigma = 0.8 if pacing == "human" else 0.3
        while t < end_ms and len(out) < expected * 3 + 10:
            size = max(1, int(r.poisson(per_session)))
            busy = 0.0
            for _ in range(size):
                if t >= end_ms:
                    break
                out.append(t)
                gap = float(r.lognormal(np.log(think) - sigma**2 / 2, sigma))  # mean = think
                t += gap
                busy += gap
            # a break long enough that the average comes out at rate_per_hour
            t += float(r.exponential(max(think, size * mean_gap - busy)))
    else:
        raise ValueError(f"unknown pacing {pacing!r}")
    times = [int(x) for x in out if start_ms <= x < end_ms]
    if limit is not None and len(times) > limit:
        keep = np.sort(r.choice(len(times), limit, replace=False))
        times = [times[int(i)] for i in keep]
    return times


# ----------------------------------------------------------------------------- events


@dataclass(slots=True)
class Request:
    """What one request asks and how (the API settings), before the response is simulated."""

    prompt: str | None
    model: str
    expected_out: float  # tokens per choice, before max_tokens clipping
    endpoint: str = "/v1/chat/completions"
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias_count: int | None = None
    reasoning_share: float = 0.0
    stream: bool | None = None
    tool_count: int | None = None
    extra_input_tokens: int = 0


def tokens_of(text: str | None) -> int:
    """Rough token count: ~4 Latin characters or ~1.5 CJK characters a token."""
    if not text:
        return 1
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff")
    return max(1, int((len(text) - cjk) / 4 + cjk / 1.5))


class EventSink:
    """Collects the events of one account in the input contract (native format)."""

    def __init__(self, acct: Account, r: np.random.Generator, salt: str, *,
                 error_rate: float = 0.005, ok_word: str = "ok",
                 ms_per_token: float = 20.0) -> None:
        self.acct = acct
        self.r = r
        self.salt = salt
        self.error_rate = error_rate
        self.ok_word = ok_word
        self.ms_per_token = ms_per_token
        self.events: list[dict[str, Any]] = []

    def emit(self, ts_ms: int, req: Request, *, client: int | None = None,
             key: int | None = None, system_prompt: int | None = None) -> None:
        r, acct = self.r, self.acct
        choices = req.n or 1
        out = max(1, int(req.expected_out * float(r.lognormal(0.0, 0.25))))
        stop: str | None = "stop"
        if req.max_tokens is not None and out >= req.max_tokens:
            out, stop = req.max_tokens, "length"
        reasoning = int(out * req.reasoning_share) if req.reasoning_share else None
        status = self.ok_word
        if r.random() < self.error_rate:
            status = choice(r, ("error", "rate_limited", "timeout"))
            out, reasoning, stop = 0, (0 if reasoning is not None else None), None
        in_tok = tokens_of(req.prompt) + req.extra_input_tokens + int(r.integers(8, 60))
        latency = float(r.lognormal(np.log(300.0), 0.3)) + 0.03 * in_tok
        latency += (out * choices ** 0.5 + (reasoning or 0)) * self.ms_per_token
        ev: dict[str, Any] = {
            "event_id": "req_" + digest(self.salt, acct.customer_id, len(self.events), n=22),
            "ts": ts_string(int(ts_ms)),
            "customer_id": acct.customer_id,
            "model": req.model,
            "input_tokens": in_tok,
            "output_tokens": out * choices,
            "api_key_id": acct.api_keys[key if key is not None
                                        else int(r.integers(0, len(acct.api_keys)))],
            "endpoint": req.endpoint,
            "status": status,
            "latency_ms": round(latency, 1),
        }
        optional = (("max_tokens", req.max_tokens), ("temperature", req.temperature),
                    ("top_p", req.top_p), ("n", req.n), ("logprobs", req.logprobs),
                    ("top_logprobs", req.top_logprobs),
                    ("logit_bias_count", req.logit_bias_count),
                    ("reasoning_tokens", reasoning), ("stop_reason", stop),
                    ("stream", req.stream), ("tool_count", req.tool_count))
        for name, value in optional:
            if value is not None:
                ev[name] = round(value, 2) if isinstance(value, float) else value
        if req.prompt is not None:
            ev["prompt"] = req.prompt
        sp = acct.system_prompts[system_prompt if system_prompt is not None
                                 else int(r.integers(0, len(acct.system_prompts)))]
        if sp is not None:
            ev["system_prompt_hash"] = sp
        cl = acct.clients[client if client is not None else int(r.integers(0, len(acct.clients)))]
        ev["client"] = cl.to_dict()
        ev["account"] = dict(acct.account)
        self.events.append(ev)
