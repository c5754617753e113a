"""The hydra detector: accounts that are each below threshold, acting together, are not.

A campaign spread over many young, small accounts that share a fingerprint (TLS client, prompt
template) must be caught by pooling their evidence, while unrelated large, old accounts that
happen to share a common token (same network and HTTP library) must not be lumped together.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from streamer.core.alerts import rank
from streamer.core.clusters import (
    KIND_WEIGHT,
    MAX_LISTED,
    MAX_MEMBERS,
    MIN_MEMBERS,
    SUSPICIOUS,
    TTL_MS,
    ClusterIndex,
    TokenState,
    cluster_id_of,
    step_token,
)
from streamer.core.events import InferenceEvent
from streamer.core.outputs import ClusterSignal
from streamer.core.scoring import SIGNAL_BY_NAME
from tests.unit.core_streams import (
    DAY,
    HEADS,
    HOUR,
    MINUTE,
    SECOND,
    T0,
    alerts_in,
    cot_prompts,
    hydra_heads,
    merged,
    poisson_times,
    run_engine,
    stream,
    words,
)

_FIELDS = ("event_id", "ts_ms", "customer_id", "model", "input_tokens", "output_tokens",
           "max_tokens", "client", "account")


def worst(alerts: list[dict[str, object]]) -> str:
    return max((str(a["severity"]) for a in alerts), key=rank, default="none")


def test_each_hydra_head_alone_stays_below_medium() -> None:
    for head in hydra_heads():
        _, out = run_engine(head)
        alerts = alerts_in(out)
        assert rank(worst(alerts)) < rank("medium"), head[0].customer_id
        assert all(a["cluster"] is None for a in alerts)


def test_the_hydra_together_is_caught_with_cluster_context() -> None:
    heads = hydra_heads()
    ids = {h[0].customer_id for h in heads}
    eng, out = run_engine(merged(heads))
    alerts = alerts_in(out)
    caught = set()
    for a in alerts:
        cl = a["cluster"]
        if rank(str(a["severity"])) < rank("medium") or cl is None:
            continue
        assert isinstance(cl, dict)
        assert str(cl["cluster_id"]).startswith("cl_")
        members = set(cl["members"])
        assert a["customer_id"] in members
        assert len(members) >= MIN_MEMBERS and members <= ids
        assert cl["shared"] and set(cl["shared"]) <= set(KIND_WEIGHT)
        assert any(r["signal"] == "cluster_evidence" for r in a["reasons"])
        assert "hydra_cluster" in a["tactics"]
        caught.add(a["customer_id"])
    assert len(caught) >= 0.8 * HEADS, f"only {len(caught)} of {HEADS} heads caught"
    # One campaign: the heads are told about the same clusters (one id per shared token).
    cluster_ids = {str(a["cluster"]["cluster_id"]) for a in alerts if a["cluster"]}
    assert cluster_ids <= {cluster_id_of(t) for t in eng.clusters.tokens}
    assert len(cluster_ids) <= 3


def test_the_hydra_is_caught_on_a_shared_tls_fingerprint_alone() -> None:
    """Different wrappers per head: only the TLS fingerprint (and network) is shared."""
    heads = []
    for h in hydra_heads(seed=2):
        r = random.Random(h[0].customer_id)
        wrapper = f"{words(r, 3)} reason step by step and show all your work"
        heads.append([
            InferenceEvent(**{**{f: getattr(e, f) for f in _FIELDS},
                              "prompt": f"{wrapper}. Question: {words(r, 12)}"})
            for e in h
        ])
    _, out = run_engine(merged(heads))
    caught = {a["customer_id"] for a in alerts_in(out)
              if a["cluster"] and rank(a["severity"]) >= rank("medium")}
    assert len(caught) >= 0.8 * HEADS
    shared = {s for a in alerts_in(out) if a["cluster"] for s in a["cluster"]["shared"]}
    assert "prompt_template" not in shared


def test_large_old_accounts_sharing_a_common_token_get_no_cluster_evidence() -> None:
    """Eight long-standing customers on one ISP with the same HTTP library, each with its own
    CoT-style workload: they share an (ASN, user agent) token but are not a hydra."""
    r = random.Random(4)
    accounts = []
    for a in range(8):
        cid = f"corp-{a}"
        start = T0 + r.randint(0, 10 * MINUTE)
        prompts = cot_prompts(r, 400, wrapper=f"{words(r, 3)} think step by step about this")
        accounts.append(stream(
            prompts, poisson_times(400, r, start, mean_s=20), customer_id=cid,
            output_tokens=300,
            client={"asn": "AS3320", "user_agent": "python-requests/2.31"},
            account={"created_at_ms": start - 900 * DAY, "signup_channel": "self_serve"},
        ))
    eng, out = run_engine(merged(accounts))
    # The token really was shared by all of them, with suspicious content ...
    shared = [t for t in eng.clusters.tokens.values() if len(t.members) == len(accounts)]
    assert shared
    assert all(m.evidence >= SUSPICIOUS for m in shared[0].members.values())
    # ... but pooling gives them no evidence worth scoring.
    lo = SIGNAL_BY_NAME["cluster_evidence"].lo
    for cid, st in eng.customers.items():
        assert st.cluster.evidence < lo, cid
    for alert in alerts_in(out):
        assert alert["cluster"] is None
        assert all(r["signal"] != "cluster_evidence" for r in alert["reasons"])


# --- the cluster stage directly -------------------------------------------------------------


def signal(cid: str, ts: int, *, token: str = "tls_fingerprint:x", kind: str = "tls_fingerprint",
           requests: int = 10, evidence: float = 0.7, account_risk: float = 0.8) -> ClusterSignal:
    return ClusterSignal(token=token, kind=kind, customer_id=cid, ts_ms=ts, event_id=f"{cid}@{ts}",
                         requests=requests, content_evidence=evidence,
                         account_risk=account_risk)


def best_evidence(signals: list[ClusterSignal]) -> float:
    idx = ClusterIndex()
    told: dict[str, float] = {}
    for s in signals:
        for v in idx.step(s):
            told[v.customer_id] = max(told.get(v.customer_id, 0.0), v.evidence)
    return max(told.values(), default=0.0)


def test_fewer_than_min_members_pool_nothing() -> None:
    sigs = [signal(f"c{i}", T0 + i) for i in range(MIN_MEMBERS - 1)]
    assert best_evidence(sigs) == 0.0
    assert best_evidence([*sigs, signal("extra", T0 + 99)]) > 0.0


def test_unsuspicious_members_are_not_pooled() -> None:
    sigs = [signal(f"c{i}", T0 + i, evidence=SUSPICIOUS - 0.01) for i in range(20)]
    assert best_evidence(sigs) == 0.0


@pytest.mark.parametrize(("field", "young_small", "old_large"), [
    ("account_risk", 0.8, 0.0),
    ("requests", 10, 5_000),
])
def test_newness_and_smallness_weight_the_pooling(field: str, young_small: Any,
                                                   old_large: Any) -> None:
    def run(value: Any) -> float:
        kw: dict[str, Any] = {field: value}
        return best_evidence([signal(f"c{i}", T0 + i, **kw) for i in range(12)])

    assert run(young_small) > run(old_large)
    assert run(old_large) < SIGNAL_BY_NAME["cluster_evidence"].lo


def test_stronger_token_kinds_pool_more_evidence() -> None:
    def run(kind: str) -> float:
        return best_evidence([signal(f"c{i}", T0 + i, token=f"{kind}:t", kind=kind)
                              for i in range(12)])

    assert run("prompt_template") >= run("tls_fingerprint") > run("asn_user_agent") > 0


def test_members_are_told_when_evidence_grows_not_on_every_signal() -> None:
    idx = ClusterIndex()
    rounds = []
    for rnd in range(5):
        verdicts = []
        for i in range(12):
            verdicts += idx.step(signal(f"c{i}", T0 + rnd * MINUTE + i))
        rounds.append(verdicts)
    assert rounds[0], "a growing cluster tells its members"
    assert all(len(v.members) <= MAX_LISTED for v in rounds[0])
    # The same members keep signalling the same evidence: nothing new to tell, no verdict storm.
    assert rounds[1:] == [[], [], [], []]


def test_a_re_delivered_older_signal_does_not_take_a_members_evidence_back() -> None:
    """Measured on the real broker (tests/durability/test_kill9.py, worker log): after a
    restart the consumer handed the cluster stage signals again from below its commit. The
    member's evidence went back to the older signal's until its next one."""
    state = TokenState()
    step_token(state, signal("c1", T0, requests=10, evidence=0.9, account_risk=0.8))
    step_token(state, signal("c1", T0 + MINUTE, requests=20, evidence=0.2, account_risk=0.1))
    step_token(state, signal("c1", T0, requests=10, evidence=0.9, account_risk=0.8))  # again
    m = state.members["c1"]
    assert (m.evidence, m.account_risk, m.requests) == (0.2, 0.1, 20)
    # a newer signal still moves it, and so does one as new (the same signal twice)
    step_token(state, signal("c1", T0 + 2 * MINUTE, requests=20, evidence=0.5))
    assert state.members["c1"].evidence == 0.5


def test_ttl_pruning_forgets_members_after_6h_of_event_time() -> None:
    state = TokenState()
    for i in range(4):
        step_token(state, signal(f"old{i}", T0 + i))
    # Just inside the TTL (measured from each member's last signal) they still count ...
    _, verdicts = step_token(state, signal("new0", T0 + TTL_MS))
    assert {f"old{i}" for i in range(4)} <= set(state.members)
    assert verdicts  # 5 suspicious members: pooled
    # ... past it they are forgotten, and no longer make up a cluster.
    _, verdicts = step_token(state, signal("new1", T0 + 3 + TTL_MS + 1))
    assert not any(c.startswith("old") for c in state.members)
    assert set(state.members) == {"new0", "new1"}
    assert verdicts == []


def test_ttl_is_event_time_a_member_that_keeps_signalling_stays() -> None:
    state = TokenState()
    step_token(state, signal("steady", T0))
    for h in range(1, 20):
        step_token(state, signal("steady", T0 + h * HOUR))
        step_token(state, signal(f"passer{h}", T0 + h * HOUR))
    assert "steady" in state.members
    assert "passer1" not in state.members  # last seen 18 h before the newest signal


def test_max_members_bound_keeps_the_most_recent() -> None:
    state = TokenState()
    n = MAX_MEMBERS + 250
    for i in range(n):
        _, verdicts = step_token(state, signal(f"c{i:04d}", T0 + i * SECOND))
        assert len(state.members) <= MAX_MEMBERS
        for v in verdicts:
            assert len(v.members) <= MAX_LISTED
    assert set(state.members) == {f"c{i:04d}" for i in range(n - MAX_MEMBERS, n)}


def test_cluster_index_keeps_tokens_apart() -> None:
    idx = ClusterIndex()
    out = []
    for i in range(12):
        token = "tls_fingerprint:a" if i % 2 else "tls_fingerprint:b"
        out += idx.step(signal(f"c{i}", T0 + i, token=token))
    assert set(idx.tokens) == {"tls_fingerprint:a", "tls_fingerprint:b"}
    for v in out:
        half = {f"c{i}" for i in range(12) if (i % 2 == 1) == (v.cluster_id ==
                                                             cluster_id_of("tls_fingerprint:a"))}
        assert set(v.members) <= half
