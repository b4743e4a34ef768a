"""Real services for the integration tests: a Kafka-protocol broker, PostgreSQL, a TCP proxy."""
