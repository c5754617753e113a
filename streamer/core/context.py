"""Account and network context: how much an account's metadata should raise or lower risk.

>>> account_risk(age_days=0.5, channel="free_trial", asn="AS16509")
0.9
>>> account_risk(age_days=900, channel="sales", asn="AS7922")
0.0
>>> account_trust(age_days=900, channel="sales")
1.0
"""

from __future__ import annotations

#: Autonomous systems of hosting, cloud and VPN providers (public ASN registrations). Traffic
#: from them is ordinary for servers (batch jobs, resellers) and unusual for people.
HOSTING_ASNS: frozenset[str] = frozenset({
    "16509", "14618", "8987",  # Amazon
    "15169", "396982", "19527",  # Google
    "8075", "8068",  # Microsoft
    "14061",  # DigitalOcean
    "16276",  # OVH
    "24940",  # Hetzner
    "63949",  # Akamai/Linode
    "20473",  # Vultr/Choopa
    "45102", "37963",  # Alibaba
    "132203", "45090",  # Tencent
    "51167",  # Contabo
    "9009",  # M247 (VPN exits)
    "60068", "212238",  # Datacamp/CDN77 (VPN exits)
    "36352",  # ColoCrossing
    "53667",  # FranTech
    "13335",  # Cloudflare (WARP)
    "62240",  # Clouvider
})


def asn_number(asn: str | None) -> str:
    """``"AS16509"`` / ``"16509"`` → ``"16509"``."""
    if not asn:
        return ""
    text = asn.strip().upper()
    return text[2:] if text.startswith("AS") else text


def is_hosting(asn: str | None) -> bool:
    return asn_number(asn) in HOSTING_ASNS


def account_risk(age_days: float | None, channel: str | None, asn: str | None) -> float:
    """0..1: how much the account's metadata looks like a throw-away extraction account."""
    risk = 0.0
    if age_days is not None:
        if age_days < 2:
            risk += 0.5
        elif age_days < 14:
            risk += 0.3
    if channel == "free_trial":
        risk += 0.3
    if is_hosting(asn):
        # API backends live in clouds, so a hosting network alone says little.
        risk += 0.1
    return min(1.0, risk)


def account_trust(age_days: float | None, channel: str | None) -> float:
    """0..1: an established account, above all one under a sales or partner contract."""
    if age_days is None:
        return 0.0
    if channel in {"sales", "partner"}:
        return 1.0 if age_days >= 90 else 0.5 if age_days >= 30 else 0.0
    if age_days >= 365:
        return 0.35
    return 0.0
