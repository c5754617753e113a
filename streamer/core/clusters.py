"""The cluster stage: find accounts that act together (hydra clusters) and pool their evidence.

Signals arrive keyed by a *token* — one shared fingerprint: a prompt-template signature, a TLS
fingerprint, a payment fingerprint, or an (ASN, user agent) pair. For each token the index keeps
the recent accounts that used it with their content evidence. When enough *suspicious* accounts
share a token, their evidence is pooled: each member may be far below any per-account threshold,
the cluster is not. Every suspicious member then gets a :class:`ClusterVerdict`.

Independent customers also share tokens: a public evaluation template, a popular client
library. What marks a hydra is that its members are *many small, young accounts*: pooling is
weighted by how new the members' accounts look and by how small each one stays (a large account
is judged well enough on its own).

State per token is bounded (``MAX_MEMBERS``, ``TTL_MS`` of event time).

>>> idx = ClusterIndex()
>>> out = []
>>> for i in range(8):
...     out += idx.step(ClusterSignal(token="tls_fingerprint:ab", kind="tls_fingerprint",
...         customer_id=f"c{i}", ts_ms=1000 + i, event_id=f"e{i}", requests=40,
...         content_evidence=0.6, account_risk=0.7))
>>> sorted({v.customer_id for v in out})[:3], out[-1].shared
(['c0', 'c1', 'c2'], ('tls_fingerprint',))
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from streamer.core.outputs import ClusterSignal, ClusterVerdict

TTL_MS = 6 * 3_600_000
MAX_MEMBERS = 400
MIN_MEMBERS = 5
SUSPICIOUS = 0.45
MAX_LISTED = 50
SMALL_ACCOUNT = 300  # requests: a member's median size above this weakens the pooling
#: How much a shared token of each kind says about acting together. A shared template or
#: payment instrument is strong; a shared network + client library is weaker (NATs, proxies).
KIND_WEIGHT: dict[str, float] = {
    "prompt_template": 1.0,
    "payment_fingerprint": 1.0,
    "tls_fingerprint": 0.8,
    "asn_user_agent": 0.6,
    "system_prompt": 0.8,
}


@dataclass(slots=True)
class Member:
    last_ts_ms: int
    requests: int
    evidence: float
    told: float = 0.0
    account_risk: float = 0.0  # cluster evidence last sent to this member


@dataclass(slots=True)
class TokenState:
    """Accounts recently seen with one token."""

    members: dict[str, Member] = field(default_factory=dict)

    def prune(self, now_ms: int) -> None:
        stale = [c for c, m in self.members.items() if now_ms - m.last_ts_ms > TTL_MS]
        for c in stale:
            del self.members[c]
        if len(self.members) > MAX_MEMBERS:
            by_age = sorted(self.members, key=lambda c: self.members[c].last_ts_ms)
            for c in by_age[: len(self.members) - MAX_MEMBERS]:
                del self.members[c]


def cluster_id_of(token: str) -> str:
    return "cl_" + hashlib.blake2b(token.encode(), digest_size=6).hexdigest()


def step_token(state: TokenState, signal: ClusterSignal) -> tuple[TokenState, list[ClusterVerdict]]:
    """Fold one signal into its token's state; return verdicts for members to be told."""
    m = state.members.get(signal.customer_id)
    if m is None:
        state.members[signal.customer_id] = Member(signal.ts_ms, signal.requests,
                                                   signal.content_evidence,
                                                   account_risk=signal.account_risk)
    else:
        m.last_ts_ms = max(m.last_ts_ms, signal.ts_ms)
        if signal.requests >= m.requests:
            # An older signal (fewer of the member's requests behind it: re-delivered after a
            # restart, as the consumer does below its commit) does not take the newer one's
            # evidence back.
            m.evidence = signal.content_evidence
            m.account_risk = signal.account_risk
        m.requests = max(m.requests, signal.requests)
    state.prune(signal.ts_ms)
    suspicious = {c: m for c, m in state.members.items() if m.evidence >= SUSPICIOUS}
    if len(suspicious) < MIN_MEMBERS:
        return state, []
    # Evidence of a cluster: the members' mean content evidence, weighted by how many act
    # together and by how telling the shared token is; share of suspicious members matters
    # too (a token shared by thousands of ordinary accounts says little).
    mean_evidence = sum(m.evidence for m in suspicious.values()) / len(suspicious)
    share = len(suspicious) / len(state.members)
    size = min(1.0, len(suspicious) / 10.0)
    newness = min(1.0, 0.3 + sum(m.account_risk for m in suspicious.values()) / len(suspicious))
    sizes = sorted(m.requests for m in suspicious.values())
    smallness = min(1.0, SMALL_ACCOUNT / max(1, sizes[len(sizes) // 2]))
    evidence = (mean_evidence * size * min(1.0, 2.0 * share) * newness * smallness
                * KIND_WEIGHT.get(signal.kind, 0.5))
    evidence = round(min(1.0, 1.6 * evidence), 4)
    listed = tuple(sorted(suspicious, key=lambda c: (-suspicious[c].requests, c))[:MAX_LISTED])
    pooled = sum(m.requests for m in suspicious.values())
    verdicts = []
    for cid, member in sorted(suspicious.items()):
        # A member shares the cluster's evidence as far as it fits the profile itself: an old,
        # large account that merely shares a cloud network with a hydra is not one of its heads.
        fit = (min(1.0, SMALL_ACCOUNT / max(1, member.requests))
               * min(1.0, 0.3 + member.account_risk))
        told = round(evidence * fit, 4)
        if told >= member.told + 0.05:
            member.told = told
            verdicts.append(ClusterVerdict(
                customer_id=cid, ts_ms=signal.ts_ms, event_id=signal.event_id,
                cluster_id=cluster_id_of(signal.token), members=listed, shared=(signal.kind,),
                evidence=told, pooled_requests=pooled,
            ))
    return state, verdicts


@dataclass(slots=True)
class ClusterIndex:
    """All tokens' states in one object, for offline replay (the shell keeps one per token)."""

    tokens: dict[str, TokenState] = field(default_factory=dict)

    def step(self, signal: ClusterSignal) -> list[ClusterVerdict]:
        state = self.tokens.setdefault(signal.token, TokenState())
        _, verdicts = step_token(state, signal)
        return verdicts
