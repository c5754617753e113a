"""Opaque ids, seeded random streams, and who-sends-it: accounts and client infrastructure.

Ids and seeds come from :mod:`hashlib` (never :func:`hash`, which varies with PYTHONHASHSEED).

>>> stable_hex("a", "b", n=10) == stable_hex("a", "b", n=10)
True
>>> ts_string(1772409601234)
'2026-03-02T00:00:01.234Z'
>>> ASNS["AS16509"].kind
'hosting'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

DAY_MS = 86_400_000


def stable_hex(*parts: object, n: int = 16) -> str:
    """``n`` hex characters derived from ``parts`` (stable across runs and machines)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=32)
    return h.hexdigest()[:n]


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    """An independent generator for one component, keyed by the run seed and a name."""
    key = int(stable_hex(*parts, n=32), 16)
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, key & (2**64 - 1), key >> 64])


def ts_string(ms: int) -> str:
    """RFC 3339 UTC with milliseconds."""
    sec, rem = divmod(ms, 1000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rem:03d}Z"


def parse_start(value: str) -> int:
    """RFC 3339 time to epoch ms (``Z`` allowed)."""
    return round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Asn:
    name: str
    country: str
    kind: str  # hosting | residential | mobile | proxy


ASNS: dict[str, Asn] = {
    "AS16509": Asn("Amazon", "US", "hosting"), "AS14618": Asn("Amazon", "US", "hosting"),
    "AS15169": Asn("Google", "US", "hosting"), "AS396982": Asn("Google Cloud", "US", "hosting"),
    "AS8075": Asn("Microsoft", "US", "hosting"), "AS24940": Asn("Hetzner", "DE", "hosting"),
    "AS16276": Asn("OVH", "FR", "hosting"), "AS14061": Asn("DigitalOcean", "US", "hosting"),
    "AS63949": Asn("Akamai Linode", "US", "hosting"), "AS20473": Asn("Vultr", "US", "hosting"),
    "AS51167": Asn("Contabo", "DE", "hosting"), "AS45102": Asn("Alibaba", "SG", "hosting"),
    "AS132203": Asn("Tencent", "HK", "hosting"), "AS9009": Asn("M247", "RO", "proxy"),
    "AS212238": Asn("Datacamp", "GB", "proxy"), "AS62240": Asn("Clouvider", "GB", "proxy"),
    "AS36352": Asn("ColoCrossing", "US", "proxy"), "AS60068": Asn("CDN77", "GB", "proxy"),
    "AS7922": Asn("Comcast", "US", "residential"), "AS7018": Asn("AT&T", "US", "residential"),
    "AS701": Asn("Verizon", "US", "residential"), "AS20115": Asn("Charter", "US", "residential"),
    "AS3320": Asn("Deutsche Telekom", "DE", "residential"),
    "AS3215": Asn("Orange", "FR", "residential"), "AS2856": Asn("BT", "GB", "residential"),
    "AS5089": Asn("Virgin Media", "GB", "residential"),
    "AS3352": Asn("Telefonica", "ES", "residential"),
    "AS4766": Asn("Korea Telecom", "KR", "residential"),
    "AS2516": Asn("KDDI", "JP", "residential"), "AS9498": Asn("Airtel", "IN", "residential"),
    "AS28573": Asn("Claro", "BR", "residential"), "AS812": Asn("Rogers", "CA", "residential"),
    "AS1221": Asn("Telstra", "AU", "residential"), "AS21928": Asn("T-Mobile", "US", "mobile"),
}
HOSTING = [a for a, v in ASNS.items() if v.kind == "hosting"]
BIG_CLOUD = ["AS16509", "AS14618", "AS15169", "AS396982", "AS8075"]
PROXY = [a for a, v in ASNS.items() if v.kind == "proxy"]
RESIDENTIAL = [a for a, v in ASNS.items() if v.kind in ("residential", "mobile")]

# Country -> UTC offset in hours (for placing a customer's day/night on the simulated clock).
UTC_OFFSET: dict[str, float] = {
    "US": -5, "CA": -5, "BR": -3, "GB": 0, "DE": 1, "FR": 1, "ES": 1, "NL": 1, "SE": 1,
    "PL": 1, "RO": 2, "IL": 2, "AE": 4, "IN": 5.5, "SG": 8, "HK": 8, "CN": 8, "JP": 9,
    "KR": 9, "AU": 10,
}
ORDINARY_COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA", "IN", "JP", "BR", "AU", "KR",
                      "NL", "SE", "ES", "SG", "IL", "PL")

# User agents of common SDKs, each with the TLS stack it runs on (JA3 is shared by everyone on
# the same stack, so a common fingerprint says little; a rare one says more).
SDK_AGENTS: tuple[tuple[str, str], ...] = (
    ("OpenAI/Python 1.54.4", "py311-openssl3"), ("OpenAI/Python 1.58.1", "py312-openssl3"),
    ("AsyncOpenAI/Python 1.57.0", "py311-openssl3"), ("OpenAI/NodeJS 4.73.0", "node20"),
    ("langchain-openai/0.2.14", "py311-openssl3"), ("llama-index/0.12.5", "py312-openssl3"),
    ("litellm/1.55.3", "py311-openssl3"), ("python-httpx/0.27.2", "py312-openssl3"),
    ("axios/1.7.9", "node20"), ("Go-http-client/2.0", "go122"), ("Java-http-client/17", "java17"),
    ("Vercel-AI-SDK/4.0.18", "node22"), ("OpenAI/NodeJS 4.76.1", "node22"),
)
SCRIPT_AGENTS: tuple[tuple[str, str], ...] = (
    ("python-requests/2.32.3", "py310-openssl1"), ("aiohttp/3.11.10", "py311-openssl3"),
    ("curl/8.5.0", "curl-openssl3"), ("python-httpx/0.27.2", "py312-openssl3"),
    ("OpenAI/Python 1.54.4", "py311-openssl3"),
)


def tls_fingerprint(stack: str) -> str:
    """A JA3-style 32-hex fingerprint for a TLS stack name."""
    return hashlib.md5(stack.encode("utf-8"), usedforsecurity=False).hexdigest()


def random_ip(rng: np.random.Generator, asn: str) -> str:
    """An address inside a (made-up, stable) block of ``asn``."""
    h = int(stable_hex("ipblock", asn, n=8), 16)
    first = 11 + h % 180
    if first in (100, 127, 169, 172, 192):
        first += 1
    second = (h >> 8) % 256
    return f"{first}.{second}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"


def pick(rng: np.random.Generator, items: Any) -> Any:
    """One element of a non-empty sequence."""
    return items[int(rng.integers(0, len(items)))]


@dataclass(slots=True)
class Identity:
    """Everything constant about one account: its record and its client profiles."""

    customer_id: str
    account: dict[str, Any]
    clients: list[dict[str, Any]] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)
    system_prompts: list[str | None] = field(default_factory=lambda: [None])


def make_client(rng: np.random.Generator, asn: str, agent: tuple[str, str],
                ip: str | None = None) -> dict[str, Any]:
    return {"ip": ip or random_ip(rng, asn), "asn": asn, "user_agent": agent[0],
            "tls_fingerprint": tls_fingerprint(agent[1])}


def make_account(rng: np.random.Generator, start_ms: int, *, age_days: tuple[float, float],
                 country: str, channel: str, payment: str | None = None) -> dict[str, Any]:
    age_ms = int(rng.uniform(*age_days) * DAY_MS)
    return {
        "created_at": ts_string(start_ms - age_ms - int(rng.integers(0, 1000))),
        "payment_fingerprint": payment or "pf_" + stable_hex("pay", rng.integers(0, 2**62), n=14),
        "country": country,
        "signup_channel": channel,
    }


def customer_id(seed: int, scenario: str, *parts: object) -> str:
    """Opaque customer id: ``cus_`` and 10 hex characters."""
    return "cus_" + stable_hex("customer", seed, scenario, *parts, n=10)


def api_keys(rng: np.random.Generator, cid: str, count: int) -> list[str]:
    return ["key_" + stable_hex(cid, "key", i, int(rng.integers(0, 2**31)), n=12)
            for i in range(count)]


def system_prompt_hashes(rng: np.random.Generator, cid: str, count: int,
                         none_share: float = 0.0) -> list[str | None]:
    out: list[str | None] = [stable_hex(cid, "sys", i, n=16) for i in range(count)]
    if none_share > 0 and rng.random() < none_share:
        out.append(None)
    return out
