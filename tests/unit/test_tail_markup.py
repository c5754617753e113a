"""``streamer tail`` prints untrusted strings from the alerts topic as text, never as markup."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from streamer.shell.tail import format_alert

HOSTILE = ["[/]", "[bold", "[/bold]", "[link=file:///etc/passwd]x[/link]", "\\[", "[[/]]", "]["]


def _alert(**overrides: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "customer_id": "cus_1", "severity": "high", "status": "open", "risk": 0.93,
        "detected_at": "2026-01-01T00:00:00Z",
        "reasons": [{"signal": "cot_rate", "value": 0.8, "contribution": 2.5}],
        "cluster": {"cluster_id": "cl_1", "members": ["a", "b"], "shared": ["asn"]},
    }
    alert.update(overrides)
    return alert


def _printed(line: Text) -> str:
    """What a terminal shows: the line printed the way ``streamer tail`` and the demo print it."""
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(line, highlight=False)
    return out.getvalue()


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_customer_ids_print_as_themselves(hostile: str) -> None:
    printed = _printed(format_alert(_alert(customer_id=hostile)))
    assert f" {hostile} " in printed


@pytest.mark.parametrize("field", ["status", "detected_at", "severity"])
def test_every_string_field_is_escaped(field: str) -> None:
    printed = _printed(format_alert(_alert(**{field: "[/]"})))
    assert "[/]" in printed


def test_reason_and_cluster_strings_and_truth_label_are_escaped() -> None:
    alert = _alert(reasons=[{"signal": "[/]", "value": "[b]", "contribution": 1.0}],
                   cluster={"cluster_id": "[/x]", "members": ["[/]"], "shared": ["[i]"]})
    printed = _printed(format_alert(alert, truth="[/]"))
    for text in ("[/]=[b]", "cluster [/x] (1 accts, [i])", "([/])"):
        assert text in printed


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["customer_id", "severity", "status", "detected_at",
                                        "risk", "reasons", "cluster"]),
                       st.one_of(st.text(), st.none(), st.integers(), st.floats(),
                                 st.lists(st.dictionaries(st.text(), st.text())),
                                 st.dictionaries(st.text(), st.text()))))
def test_any_record_shape_renders(alert: dict[str, Any]) -> None:
    plain = format_alert(alert).plain
    assert not any(ord(c) < 32 for c in plain)
    if isinstance(alert.get("customer_id"), str) and alert["customer_id"].isprintable():
        assert alert["customer_id"] in plain


def test_terminal_escape_sequences_are_not_passed_through() -> None:
    printed = _printed(format_alert(_alert(customer_id="\x1b[2J\x1b]0;pwned\x07cus")))
    assert "\x1b" not in printed and "\x07" not in printed
    assert "\\x1b[2J\\x1b]0;pwned\\x07cus" in printed
