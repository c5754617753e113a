"""Integrations that feed the tools operators already run, each a ``streamer`` sub-command.

- :mod:`streamer.integrations.alertmanager`: ``extraction-risk`` -> Alertmanager v2 API;
- :mod:`streamer.integrations.webhook`: ``extraction-risk`` -> any HTTP endpoint, HMAC-signed;
- :mod:`streamer.integrations.feast_push`: ``customer-features`` -> a Feast push source.

They share :mod:`streamer.integrations.sink` (consume, deliver with retries, commit after
delivery) and the total parsers in :mod:`streamer.integrations.records`.
"""
