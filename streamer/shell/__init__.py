"""The thin shell: Faust app, Kafka I/O, CLI commands around the pure core."""
