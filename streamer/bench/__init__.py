"""``make bench``: the detector against its ceilings and a peer, on the real broker, in one run.

Side by side, each as events/s and as a ratio to the ceilings measured in the same run:

* the raw aiokafka consumer + orjson decode (the client ceiling);
* a no-op Faust agent, ``take(500)`` + orjson (the framework ceiling; :mod:`.noop_faust`);
* the streamer worker with full detection (``streamer worker`` via
  :class:`~streamer.shell.supervise.WorkerProcess`, progress from its ``/stats``);
* a Quix Streams app running the same pure core with its own RocksDB state and changelog
  (:mod:`.quix_app`; the ``bench`` extra);
* the offline core (:mod:`.core`; CPU time on one core, with per-step µs).

Also: event -> alert latency at 50 % and 90 % of the worker's maximum (paced producer), encoded
state bytes and RSS per customer at 10k and 100k customers, recovery after kill -9, 1 against 2
workers on 4 partitions, and a py-spy flamegraph of the worker under load with its hotspots.

Writes ``reports/bench/*.json``, ``reports/bench/throughput.png``,
``reports/bench/worker-flamegraph.svg`` and the table between the bench markers of the README.
``--quick`` runs every part on a small stream (the harness's smoke test); ``--offline-only``
skips the broker.
"""
