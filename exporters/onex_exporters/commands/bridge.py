"""``onex-otel bridge``: OTLP on Kafka (and, optionally, an OTLP receiver) -> the onex topics."""

from __future__ import annotations

import argparse
import logging
from typing import Any


def register(sub: Any) -> None:
    """Add the ``bridge`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "bridge",
        help="run the bridge: OTLP spans/logs on Kafka -> onex events (until SIGTERM)",
    )
    p.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS)")
    p.add_argument("--spans-topic", help="OTLP traces topic (ONEX_BRIDGE_SPANS_TOPIC; '' for none)")
    p.add_argument("--logs-topic", help="OTLP logs topic (ONEX_BRIDGE_LOGS_TOPIC; '' for none)")
    p.add_argument(
        "--encoding",
        choices=("otlp_proto", "otlp_json"),
        help="encoding of the OTLP messages (ONEX_BRIDGE_ENCODING)",
    )
    p.add_argument("--group", help="consumer group (ONEX_BRIDGE_GROUP_ID)")
    p.add_argument("--dlq-topic", help="dead-letter topic (ONEX_BRIDGE_DLQ_TOPIC)")
    p.add_argument("--port", type=int, help="HTTP port of /health and /metrics (ONEX_BRIDGE_PORT); 0: off")
    p.add_argument(
        "--otlp-grpc", metavar="ADDR", help="also accept OTLP/gRPC on ADDR (host:port) and write it to Kafka"
    )
    p.add_argument(
        "--otlp-http", metavar="ADDR", help="also accept OTLP/HTTP on ADDR (host:port) and write it to Kafka"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log assignments and dead letters")
    p.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> Any:
    """The settings with the command line's overrides applied."""
    from onex_otel.config import load_settings

    return load_settings(
        kafka_bootstrap_servers=args.bootstrap_servers,
        bridge_spans_topic=args.spans_topic,
        bridge_logs_topic=args.logs_topic,
        bridge_encoding=args.encoding,
        bridge_group_id=args.group,
        bridge_dlq_topic=args.dlq_topic,
        bridge_http_port=args.port,
    )


def run(args: argparse.Namespace) -> int:
    """Run the bridge in the foreground; exit 0 after a SIGTERM/SIGINT drain."""
    from onex_exporters.bridge.service import options_from_settings, run_bridge
    from onex_otel.cli import CliError

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = settings_from(args)
    try:
        options = options_from_settings(settings)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if settings.kafka_bootstrap_servers:  # a stale address: one line, not retries for ever
        from onex_otel.cli.bounds import require_kafka

        require_kafka(settings.kafka_bootstrap_servers, settings.connect_timeout_s)
    receiver = None
    if args.otlp_grpc or args.otlp_http:
        from onex_exporters.bridge.receiver import (  # type: ignore[import-not-found]
            OtlpReceiver,
        )

        receiver = OtlpReceiver(settings, grpc_address=args.otlp_grpc, http_address=args.otlp_http)
        try:
            receiver.start()
        except OSError as exc:
            raise CliError(f"cannot accept OTLP: {exc.strerror or exc}") from exc
    try:
        run_bridge(options, settings, receiver=receiver)
    except OSError as exc:
        if receiver is not None:
            receiver.stop()
        raise CliError(f"cannot serve /health and /metrics: {exc.strerror or exc}") from exc
    return 0
