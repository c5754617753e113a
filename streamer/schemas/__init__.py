"""JSON Schemas of streamer's topic contracts, shipped with the package.

>>> sorted(SCHEMAS)
['customer-features', 'extraction-feedback', 'extraction-risk', 'inference-event']
>>> load("extraction-risk")["properties"]["severity"]["enum"][-1]
'critical'
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SCHEMAS = ("inference-event", "extraction-risk", "customer-features", "extraction-feedback")


def load(name: str) -> dict[str, Any]:
    """The JSON Schema of one topic contract."""
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
