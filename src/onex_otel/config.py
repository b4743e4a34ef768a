"""All onex-otel settings, in one module.

Each setting has one environment variable (some have a legacy alias), a meaning and a default.
Precedence: an explicit argument beats the environment, which beats the default. A value that
cannot be parsed raises :class:`ConfigError` naming the variable, the value and what was expected;
nothing is silently guessed.

The module imports only the standard library so that short-lived processes (CLI hooks) can read
their configuration cheaply.

Use :func:`load_settings` to read everything at once, or :data:`SETTINGS` for the table of
definitions (the README's configuration reference is generated from the same table, see
``onex-otel config --markdown``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from onex_otel import conventions as _c
from onex_otel.errors import OnexError

T = TypeVar("T")


class ConfigError(OnexError, ValueError):
    """A setting has a value that cannot be used."""


_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})


def parse_bool(text: str) -> bool:
    """Parse a boolean environment value (``true/false``, ``1/0``, ``yes/no``, ``on/off``)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def parse_int(text: str) -> int:
    """Parse an integer environment value."""
    return int(text.strip())


def parse_float(text: str) -> float:
    """Parse a float environment value."""
    return float(text.strip())


def parse_str(text: str) -> str:
    """Return a string environment value stripped of surrounding white space."""
    return text.strip()


def parse_list(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list; empty items are dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_optional_list(text: str) -> tuple[str, ...] | None:
    """Parse a comma-separated list where the empty string means "not set"."""
    return parse_list(text) or None


def parse_otlp_protocol(text: str) -> str:
    """Parse an OTLP transport: ``grpc`` or ``http/protobuf``."""
    value = text.strip()
    if value not in ("grpc", "http/protobuf"):
        raise ValueError("expected grpc or http/protobuf")
    return value


def parse_optional_str(text: str) -> str | None:
    """Parse a string where the empty string means "not set"."""
    value = text.strip()
    return value or None


@dataclass(frozen=True)
class Setting(Generic[T]):
    """The definition of one setting: where it is read from, how, and what it means."""

    attr: str
    env: str
    parse: Callable[[str], T]
    default: T
    doc: str
    aliases: tuple[str, ...] = ()
    group: str = "core"

    def read(self, environ: Mapping[str, str]) -> T:
        """Read this setting from ``environ``; fall back to the default when unset."""
        for name in (self.env, *self.aliases):
            raw = environ.get(name)
            if raw is None:
                continue
            try:
                return self.parse(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{name}={raw!r} is not valid: {exc}") from None
        return self.default


#: The smallest ``ONEX_MAX_PAYLOAD_BYTES`` allowed; a text of at most a quarter as many characters
#: always fits (UTF-8 needs at most 4 bytes per character), whatever the setting.
MIN_PAYLOAD_BYTES = 64
ALWAYS_FITS_CHARS = MIN_PAYLOAD_BYTES // 4

#: Default secret-looking keys whose values are redacted in captured payloads (case-insensitive,
#: matched as substrings of the normalised key).
DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "cookie",
    "session_key",
    "private_key",
    "privatekey",
    "credential",
    "access_key",
    "client_secret",
    "signature",
    "jwt",
)


@dataclass(frozen=True)
class Settings:
    """Every onex-otel setting, resolved. Build one with :func:`load_settings`.

    The field defaults are the settings' defaults (:data:`SETTINGS` reads them from here).
    """

    service_name: str | None = None
    environment: str = "dev"
    tenant_id: str = "default"
    source: str = "omniclaude"
    debug: bool = False
    capture_content: bool = True
    max_payload_bytes: int = 8192
    redact_keys: tuple[str, ...] = DEFAULT_REDACT_KEYS
    extra_redact_keys: tuple[str, ...] = ()
    otlp_endpoint: str | None = None
    otlp_protocol: str = "grpc"
    traces_exporter: tuple[str, ...] | None = None
    kafka_bootstrap_servers: str | None = None
    kafka_enable_logging: bool = True
    topic_prefix: str = ""
    spool_dir: str | None = None
    spool_max_bytes: int = 256 * 1024 * 1024
    spool_fsync: str = "batch"
    kafka_delivery_timeout_ms: int = 10000
    emit_socket: str | None = None
    topic_execution_started: str | None = None
    topic_execution_progress: str | None = None
    topic_execution_completed: str | None = None
    topic_execution_failed: str | None = None
    topic_agent_actions: str | None = None
    topic_routing_decision: str | None = None
    topic_router_performance: str | None = None
    topic_transformation: str | None = None
    topic_detection_failure: str | None = None
    kafka_compression: str = "lz4"
    spool_retry_max_s: float = 30.0
    database_url: str | None = None
    postgres_host: str = "localhost"
    postgres_port: int = 5432
    postgres_database: str = "omninode_bridge"
    postgres_user: str = "postgres"
    postgres_password: str | None = None
    kafka_group_id: str = "agent-observability-postgres"
    batch_size: int = 1000
    batch_timeout_ms: int = 50
    eager_batches: bool = True
    db_writers: int = 2
    db_statement_timeout_ms: int = 60000
    commit_interval_ms: int = 1000
    dlq_topic: str = "onex.dlq.agent-observability.v1"
    http_port: int = 8080
    http_host: str = "127.0.0.1"
    db_retry_initial_ms: int = 200
    db_retry_max_ms: int = 10000
    connect_timeout_s: float = 10.0
    shutdown_timeout_s: float = 30.0
    partitions_ahead_days: int = 7
    retention_days: int = 0
    debug_retention_days: int = 0
    maintenance_interval_s: float = 3600.0
    bridge_spans_topic: str = _c.OTLP_SPANS_TOPIC
    bridge_logs_topic: str = _c.OTLP_LOGS_TOPIC
    bridge_encoding: str = _c.ENCODING_OTLP_PROTO
    bridge_group_id: str = _c.DEFAULT_BRIDGE_GROUP_ID
    bridge_dlq_topic: str = _c.DEFAULT_BRIDGE_DLQ_TOPIC
    bridge_http_port: int = 8081
    bridge_http_host: str = "127.0.0.1"
    bridge_shutdown_timeout_s: float = 30.0
    otlp_grpc_address: str | None = None
    otlp_http_address: str | None = None
    otlp_max_request_bytes: int = 4 * 1024 * 1024
    otlp_max_pending_bytes: int = 64 * 1024 * 1024
    otlp_max_message_bytes: int = 900_000
    otlp_delivery_timeout_ms: int = 4000
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def all_redact_keys(self) -> tuple[str, ...]:
        """The redaction key fragments in force (``redact_keys`` + ``extra_redact_keys``)."""
        return self.redact_keys + self.extra_redact_keys

    @property
    def kafka_enabled(self) -> bool:
        """Whether events are published to Kafka at all."""
        return bool(self.kafka_bootstrap_servers) and self.kafka_enable_logging

    @property
    def spool_path(self) -> Path:
        """The spool directory in force."""
        if self.spool_dir:
            return Path(self.spool_dir)
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "onex-otel" / "spool"

    def postgres_conninfo(self) -> str:
        """A libpq connection string from ``DATABASE_URL`` or the ``POSTGRES_*`` settings."""
        if self.database_url:
            return self.database_url
        parts = {
            "host": self.postgres_host,
            "port": str(self.postgres_port),
            "dbname": self.postgres_database,
            "user": self.postgres_user,
        }
        if self.postgres_password:
            parts["password"] = self.postgres_password
        return " ".join(f"{k}={_quote_conninfo(v)}" for k, v in parts.items())


#: Each setting's default: its :class:`Settings` field's, written there once.
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings) if f.name != "extra"}


def _setting(
    attr: str,
    env: str,
    parse: Callable[[str], Any],
    doc: str,
    *,
    aliases: tuple[str, ...] = (),
    group: str = "core",
) -> Setting[Any]:
    """The definition of the setting ``attr``, with the default of its :class:`Settings` field."""
    return Setting(attr, env, parse, _DEFAULTS[attr], doc, aliases, group)


SETTINGS: tuple[Setting[Any], ...] = (
    # --- core -------------------------------------------------------------------------------
    _setting(
        "service_name",
        "OTEL_SERVICE_NAME",
        parse_optional_str,
        "Service name of the agent process (standard OpenTelemetry variable).",
    ),
    _setting(
        "environment",
        "ENVIRONMENT",
        parse_str,
        "Deployment environment (dev/test/prod); recorded as deployment.environment.name.",
    ),
    _setting(
        "tenant_id", "TENANT_ID", parse_str, "Tenant of every envelope (seed 003 multi-tenant isolation)."
    ),
    _setting("source", "ONEX_SOURCE", parse_str, "The envelope's `source` field."),
    _setting(
        "debug", "DEBUG", parse_bool, "DEBUG mode of the legacy stack: also publish every individual action."
    ),
    _setting(
        "capture_content",
        "ONEX_CAPTURE_CONTENT",
        parse_bool,
        "Record arguments, results, contexts and user requests. false: not recorded at all.",
    ),
    _setting(
        "max_payload_bytes",
        "ONEX_MAX_PAYLOAD_BYTES",
        parse_int,
        "Largest JSON payload kept per attribute; longer values are truncated (still valid "
        "JSON, with a marker and the original size).",
    ),
    _setting(
        "redact_keys",
        "ONEX_REDACT_KEYS",
        parse_list,
        "Comma-separated key fragments whose values are redacted, any nesting depth, "
        "case-insensitive. Replaces the default list.",
    ),
    _setting(
        "extra_redact_keys",
        "ONEX_EXTRA_REDACT_KEYS",
        parse_list,
        "Comma-separated key fragments redacted in addition to ONEX_REDACT_KEYS.",
    ),
    _setting(
        "otlp_endpoint",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        parse_optional_str,
        "OTLP endpoint; when set, configure() also exports spans over OTLP (with "
        "OTEL_TRACES_EXPORTER unset or naming otlp; standard OpenTelemetry variable, with the "
        "other OTEL_EXPORTER_OTLP_* variables).",
    ),
    _setting(
        "otlp_protocol",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        parse_otlp_protocol,
        "OTLP transport used by configure(): grpc or http/protobuf (standard OpenTelemetry "
        "variables, the traces one first).",
        aliases=("OTEL_EXPORTER_OTLP_PROTOCOL",),
    ),
    _setting(
        "traces_exporter",
        "OTEL_TRACES_EXPORTER",
        parse_optional_list,
        "Comma-separated span exporters configure() adds (standard OpenTelemetry variable): "
        "otlp, console, none, or an opentelemetry_traces_exporter entry point such as "
        "onex_kafka. Unset: otlp when OTEL_EXPORTER_OTLP_ENDPOINT is set, onex_kafka when "
        "KAFKA_BOOTSTRAP_SERVERS is set.",
    ),
    # --- kafka ------------------------------------------------------------------------------
    _setting(
        "kafka_bootstrap_servers",
        "KAFKA_BOOTSTRAP_SERVERS",
        parse_optional_str,
        "Kafka bootstrap servers. Unset: no Kafka publishing.",
        aliases=("KAFKA_BROKERS",),
        group="kafka",
    ),
    _setting(
        "kafka_enable_logging",
        "KAFKA_ENABLE_LOGGING",
        parse_bool,
        "false turns publishing of events to Kafka off.",
        group="kafka",
    ),
    _setting(
        "topic_prefix",
        "ONEX_TOPIC_PREFIX",
        parse_str,
        "Prefix added to every default topic name.",
        group="kafka",
    ),
    _setting(
        "spool_dir",
        "ONEX_SPOOL_DIR",
        parse_optional_str,
        "Directory of the durable spool for events Kafka could not take "
        "(default: <user cache dir>/onex-otel/spool).",
        group="kafka",
    ),
    _setting(
        "spool_max_bytes",
        "ONEX_SPOOL_MAX_BYTES",
        parse_int,
        "Bound of the spool; beyond it the oldest events are dropped and counted.",
        group="kafka",
    ),
    _setting(
        "spool_fsync",
        "ONEX_SPOOL_FSYNC",
        parse_str,
        "Spool fsync policy: always | batch | never.",
        group="kafka",
    ),
    _setting(
        "kafka_delivery_timeout_ms",
        "ONEX_KAFKA_DELIVERY_TIMEOUT_MS",
        parse_int,
        "How long the producer tries a message before it goes to the spool; also bounds "
        "a process's exit while Kafka is down (plus up to 3 s to spool the rest).",
        group="kafka",
    ),
    _setting(
        "emit_socket",
        "ONEX_EMIT_SOCKET",
        parse_optional_str,
        "Unix socket of the local emit daemon (default: <runtime dir>/onex-otel/emit.sock).",
        group="kafka",
    ),
    # --- export (Kafka exporter: topics, producer, spool retry) -----------------------------
    _setting(
        "topic_execution_started",
        "ONEX_TOPIC_EXECUTION_STARTED",
        parse_optional_str,
        "Topic of execution started events (unset: prefix + event type).",
        group="export",
    ),
    _setting(
        "topic_execution_progress",
        "ONEX_TOPIC_EXECUTION_PROGRESS",
        parse_optional_str,
        "Topic of execution progress events.",
        group="export",
    ),
    _setting(
        "topic_execution_completed",
        "ONEX_TOPIC_EXECUTION_COMPLETED",
        parse_optional_str,
        "Topic of execution completed events.",
        group="export",
    ),
    _setting(
        "topic_execution_failed",
        "ONEX_TOPIC_EXECUTION_FAILED",
        parse_optional_str,
        "Topic of execution failed events.",
        group="export",
    ),
    _setting(
        "topic_agent_actions",
        "ONEX_TOPIC_AGENT_ACTIONS",
        parse_optional_str,
        "Topic of agent action events (tool_call, decision, error, success).",
        group="export",
    ),
    _setting(
        "topic_routing_decision",
        "ONEX_TOPIC_ROUTING_DECISION",
        parse_optional_str,
        "Topic of routing decision events.",
        group="export",
    ),
    _setting(
        "topic_router_performance",
        "ONEX_TOPIC_ROUTER_PERFORMANCE",
        parse_optional_str,
        "Topic of router performance metrics events.",
        group="export",
    ),
    _setting(
        "topic_transformation",
        "ONEX_TOPIC_TRANSFORMATION",
        parse_optional_str,
        "Topic of agent transformation events.",
        group="export",
    ),
    _setting(
        "topic_detection_failure",
        "ONEX_TOPIC_DETECTION_FAILURE",
        parse_optional_str,
        "Topic of agent detection failure events.",
        group="export",
    ),
    _setting(
        "kafka_compression",
        "ONEX_KAFKA_COMPRESSION",
        parse_str,
        "Producer compression codec: none | gzip | snappy | lz4 | zstd.",
        group="export",
    ),
    _setting(
        "spool_retry_max_s",
        "ONEX_SPOOL_RETRY_MAX_S",
        parse_float,
        "Longest pause between two attempts to re-send the spool (exponential backoff "
        "with jitter up to this cap).",
        group="export",
    ),
    # --- collector --------------------------------------------------------------------------
    _setting(
        "database_url",
        "DATABASE_URL",
        parse_optional_str,
        "PostgreSQL connection URL; overrides the POSTGRES_* variables.",
        group="collector",
    ),
    _setting("postgres_host", "POSTGRES_HOST", parse_str, "PostgreSQL host.", group="collector"),
    _setting("postgres_port", "POSTGRES_PORT", parse_int, "PostgreSQL port.", group="collector"),
    _setting("postgres_database", "POSTGRES_DATABASE", parse_str, "PostgreSQL database.", group="collector"),
    _setting("postgres_user", "POSTGRES_USER", parse_str, "PostgreSQL user.", group="collector"),
    _setting(
        "postgres_password",
        "POSTGRES_PASSWORD",
        parse_optional_str,
        "PostgreSQL password.",
        group="collector",
    ),
    _setting(
        "kafka_group_id", "KAFKA_GROUP_ID", parse_str, "Consumer group of the collector.", group="collector"
    ),
    _setting(
        "batch_size",
        "BATCH_SIZE",
        parse_int,
        "Most events per database transaction (a backlog is written in batches this large).",
        group="collector",
    ),
    _setting(
        "batch_timeout_ms",
        "BATCH_TIMEOUT_MS",
        parse_int,
        "Longest an event waits for more to fill its batch while earlier batches are being "
        "written (see ONEX_COLLECTOR_EAGER_BATCHES).",
        group="collector",
    ),
    _setting(
        "eager_batches",
        "ONEX_COLLECTOR_EAGER_BATCHES",
        parse_bool,
        "Write a partial batch at once when no batch is in flight and nothing more is waiting "
        "(false: it waits BATCH_TIMEOUT_MS for more, as the legacy collector did).",
        group="collector",
    ),
    _setting(
        "db_writers",
        "ONEX_COLLECTOR_DB_WRITERS",
        parse_int,
        "PostgreSQL connections the collector writes batches on at once, each batch in its "
        "own transaction, up to two queued per connection (offsets still advance in order).",
        group="collector",
    ),
    _setting(
        "db_statement_timeout_ms",
        "ONEX_COLLECTOR_STATEMENT_TIMEOUT_MS",
        parse_int,
        "Longest the collector's statement for a batch may run in PostgreSQL (a lock held "
        "elsewhere, a stuck server) before it is cancelled and the batch retried (0: no "
        "limit).",
        group="collector",
    ),
    _setting(
        "commit_interval_ms",
        "ONEX_COLLECTOR_COMMIT_INTERVAL_MS",
        parse_int,
        "How often the collector commits the offsets of batches already written to "
        "PostgreSQL (a crash redelivers, idempotently, what came after).",
        group="collector",
    ),
    _setting(
        "dlq_topic", "ONEX_DLQ_TOPIC", parse_str, "Dead-letter topic of the collector.", group="collector"
    ),
    _setting(
        "http_port",
        "ONEX_COLLECTOR_PORT",
        parse_int,
        "Port of the collector's /health and /metrics endpoints (0: off).",
        group="collector",
    ),
    _setting(
        "http_host",
        "ONEX_COLLECTOR_HOST",
        parse_str,
        "Address the collector's HTTP endpoints bind to.",
        group="collector",
    ),
    _setting(
        "db_retry_initial_ms",
        "ONEX_DB_RETRY_INITIAL_MS",
        parse_int,
        "First wait before the collector retries a batch while PostgreSQL is unavailable "
        "(doubles on each attempt, with jitter).",
        group="collector",
    ),
    _setting(
        "db_retry_max_ms",
        "ONEX_DB_RETRY_MAX_MS",
        parse_int,
        "Cap of the collector's wait between database retries.",
        group="collector",
    ),
    _setting(
        "connect_timeout_s",
        "ONEX_CONNECT_TIMEOUT_S",
        parse_float,
        "How long collect, replay, demo, db migrate and trace wait for Kafka and PostgreSQL "
        "to answer at startup before they fail with a one-line error (replay and demo also "
        "give up once Kafka or PostgreSQL stayed unreachable this long while running).",
        group="collector",
    ),
    _setting(
        "shutdown_timeout_s",
        "ONEX_COLLECTOR_SHUTDOWN_TIMEOUT_S",
        parse_float,
        "On SIGTERM/SIGINT the collector finishes its batch within this time, then exits.",
        group="collector",
    ),
    _setting(
        "partitions_ahead_days",
        "ONEX_PARTITIONS_AHEAD_DAYS",
        parse_int,
        "Days of table partitions (one per UTC day) kept created ahead of today by the "
        "collector and `onex-otel db maintain`.",
        group="collector",
    ),
    _setting(
        "retention_days",
        "ONEX_RETENTION_DAYS",
        parse_int,
        "Days of events kept: older day partitions are dropped whole by the collector and "
        "`onex-otel db maintain` (0: keep everything).",
        group="collector",
    ),
    _setting(
        "debug_retention_days",
        "ONEX_DEBUG_RETENTION_DAYS",
        parse_int,
        "Days of debug-mode agent_actions kept within the partitions kept (the seeds' "
        "cleanup_old_debug_logs; 0: off).",
        group="collector",
    ),
    _setting(
        "maintenance_interval_s",
        "ONEX_PARTITION_MAINTENANCE_INTERVAL_S",
        parse_float,
        "How often the collector creates partitions ahead and applies the retention "
        "(at start too; 0: never, leave it to `onex-otel db maintain`).",
        group="collector",
    ),
    # --- bridge (OTLP on Kafka -> onex topics) -------------------------------------------------
    _setting(
        "bridge_spans_topic",
        "ONEX_BRIDGE_SPANS_TOPIC",
        parse_str,
        "Topic of OTLP trace export requests the bridge consumes (the Collector Kafka "
        "exporter's default; empty: none).",
        group="bridge",
    ),
    _setting(
        "bridge_logs_topic",
        "ONEX_BRIDGE_LOGS_TOPIC",
        parse_str,
        "Topic of OTLP log export requests the bridge consumes (empty: none).",
        group="bridge",
    ),
    _setting(
        "bridge_encoding",
        "ONEX_BRIDGE_ENCODING",
        parse_str,
        "Encoding of the OTLP messages: otlp_proto or otlp_json (the Kafka exporter's `encoding`).",
        group="bridge",
    ),
    _setting(
        "bridge_group_id",
        "ONEX_BRIDGE_GROUP_ID",
        parse_str,
        "Consumer group of the bridge (bridges of one group share the partitions).",
        group="bridge",
    ),
    _setting(
        "bridge_dlq_topic",
        "ONEX_BRIDGE_DLQ_TOPIC",
        parse_str,
        "Dead-letter topic of OTLP messages the bridge cannot decode or map.",
        group="bridge",
    ),
    _setting(
        "bridge_http_port",
        "ONEX_BRIDGE_PORT",
        parse_int,
        "Port of the bridge's /health and /metrics endpoints (0: off).",
        group="bridge",
    ),
    _setting(
        "bridge_http_host",
        "ONEX_BRIDGE_HOST",
        parse_str,
        "Address the bridge's HTTP endpoints bind to.",
        group="bridge",
    ),
    _setting(
        "bridge_shutdown_timeout_s",
        "ONEX_BRIDGE_SHUTDOWN_TIMEOUT_S",
        parse_float,
        "On SIGTERM/SIGINT the bridge delivers and commits what it holds within this time, then exits.",
        group="bridge",
    ),
    # --- OTLP receiver (onex-otel bridge --otlp-grpc / --otlp-http) -------------------------
    _setting(
        "otlp_grpc_address",
        "ONEX_OTLP_GRPC_ADDRESS",
        parse_optional_str,
        "host:port of the OTLP/gRPC receiver (a bare port: 127.0.0.1). Unset: no gRPC "
        "receiver unless --otlp-grpc is given. Only an address given explicitly listens "
        "beyond loopback.",
        group="receiver",
    ),
    _setting(
        "otlp_http_address",
        "ONEX_OTLP_HTTP_ADDRESS",
        parse_optional_str,
        "host:port of the OTLP/HTTP receiver (/v1/traces, /v1/logs; a bare port: "
        "127.0.0.1). Unset: no HTTP receiver unless --otlp-http is given.",
        group="receiver",
    ),
    _setting(
        "otlp_max_request_bytes",
        "ONEX_OTLP_MAX_REQUEST_BYTES",
        parse_int,
        "Largest OTLP request body, as sent and once decompressed; larger ones are answered "
        "413 (gRPC: RESOURCE_EXHAUSTED).",
        group="receiver",
    ),
    _setting(
        "otlp_max_pending_bytes",
        "ONEX_OTLP_MAX_PENDING_BYTES",
        parse_int,
        "Bytes of accepted requests not yet delivered to Kafka nor spooled; beyond it "
        "requests are answered 503 with Retry-After (gRPC: UNAVAILABLE with RetryInfo) "
        "instead of being buffered.",
        group="receiver",
    ),
    _setting(
        "otlp_max_message_bytes",
        "ONEX_OTLP_MAX_MESSAGE_BYTES",
        parse_int,
        "Largest Kafka message the receiver writes: a larger request is split into several "
        "export requests; a single span or log record larger than this is rejected "
        "(partial success). Keep it below the broker's message.max.bytes.",
        group="receiver",
    ),
    _setting(
        "otlp_delivery_timeout_ms",
        "ONEX_OTLP_DELIVERY_TIMEOUT_MS",
        parse_int,
        "How long the receiver's producer tries a request before it goes to the spool; "
        "keep it well below the senders' export timeout (OTLP default 10 s), since a "
        "request is answered only once it is in Kafka or in the spool.",
        group="receiver",
    ),
)


def mask_conninfo(conninfo: str) -> str:
    """``conninfo`` (a URL or ``key=value`` string) with only its password replaced by ``***``.

    ``postgresql://user:secret@host:5432/db`` -> ``postgresql://user:***@host:5432/db``; a
    ``password=`` key, URL query parameter included, is masked the same way.
    """
    import re

    masked = re.sub(r"^([a-z][a-z0-9+.-]*://[^:@/?#]*):[^@/?#]*@", r"\1:***@", conninfo, flags=re.IGNORECASE)
    return re.sub(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", r"\1***", masked, flags=re.IGNORECASE)


def _quote_conninfo(value: str) -> str:
    if value and all(c not in value for c in " '\\"):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


_VALIDATORS: dict[str, Callable[[Any], str | None]] = {
    "max_payload_bytes": lambda v: (
        None if v >= MIN_PAYLOAD_BYTES else f"must be at least {MIN_PAYLOAD_BYTES}"
    ),
    "otlp_protocol": lambda v: None if v in ("grpc", "http/protobuf") else "must be grpc or http/protobuf",
    "spool_max_bytes": lambda v: None if v >= 0 else "must be >= 0",
    "spool_fsync": lambda v: None if v in ("always", "batch", "never") else "must be always, batch or never",
    "kafka_delivery_timeout_ms": lambda v: None if v > 0 else "must be > 0",
    "kafka_compression": lambda v: (
        None if v in ("none", "gzip", "snappy", "lz4", "zstd") else "must be none, gzip, snappy, lz4 or zstd"
    ),
    "spool_retry_max_s": lambda v: None if v > 0 else "must be > 0",
    "batch_size": lambda v: None if v >= 1 else "must be >= 1",
    "batch_timeout_ms": lambda v: None if v >= 1 else "must be >= 1",
    "db_writers": lambda v: None if 1 <= v <= 16 else "must be between 1 and 16",
    "db_statement_timeout_ms": lambda v: None if v >= 0 else "must be >= 0",
    "commit_interval_ms": lambda v: None if v >= 1 else "must be >= 1",
    "postgres_port": lambda v: None if 0 < v < 65536 else "must be a TCP port",
    "http_port": lambda v: None if 0 <= v < 65536 else "must be a TCP port or 0",
    "db_retry_initial_ms": lambda v: None if v >= 1 else "must be >= 1",
    "db_retry_max_ms": lambda v: None if v >= 1 else "must be >= 1",
    "connect_timeout_s": lambda v: None if v > 0 else "must be > 0",
    "shutdown_timeout_s": lambda v: None if v > 0 else "must be > 0",
    "partitions_ahead_days": lambda v: None if 0 <= v <= 366 else "must be between 0 and 366",
    "retention_days": lambda v: None if v >= 0 else "must be >= 0",
    "debug_retention_days": lambda v: None if v >= 0 else "must be >= 0",
    "maintenance_interval_s": lambda v: None if v >= 0 else "must be >= 0",
    "bridge_encoding": lambda v: (
        None if v in _c.OTLP_ENCODINGS else "must be " + " or ".join(_c.OTLP_ENCODINGS)
    ),
    "bridge_http_port": lambda v: None if 0 <= v < 65536 else "must be a TCP port or 0",
    "bridge_shutdown_timeout_s": lambda v: None if v > 0 else "must be > 0",
    "otlp_max_request_bytes": lambda v: None if v >= 1024 else "must be at least 1024",
    "otlp_max_pending_bytes": lambda v: None if v >= 1024 else "must be at least 1024",
    "otlp_max_message_bytes": lambda v: None if v >= 1024 else "must be at least 1024",
    "otlp_delivery_timeout_ms": lambda v: None if v > 0 else "must be > 0",
}

_FIELD_NAMES = frozenset(f.name for f in fields(Settings)) - {"extra"}
assert {s.attr for s in SETTINGS} == _FIELD_NAMES, "SETTINGS and Settings disagree"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Resolve every setting: explicit ``overrides`` > ``environ`` (default ``os.environ``) > default.

    Raises :class:`ConfigError` for an unparsable or out-of-range value, or an unknown override.
    """
    env = os.environ if environ is None else environ
    unknown = set(overrides) - _FIELD_NAMES
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.attr in overrides and overrides[setting.attr] is not None:
            values[setting.attr] = overrides[setting.attr]
        else:
            values[setting.attr] = setting.read(env)
    for name, check in _VALIDATORS.items():
        problem = check(values[name])
        if problem:
            setting = next(s for s in SETTINGS if s.attr == name)
            raise ConfigError(f"{setting.env}={values[name]!r} {problem}")
    return Settings(**values)


def with_overrides(settings: Settings, **overrides: Any) -> Settings:
    """Return a copy of ``settings`` with some values replaced (``None`` values are ignored)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def reference_markdown() -> str:
    """The configuration reference as a Markdown table (used to keep the README true)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        names = ", ".join(f"`{n}`" for n in (s.env, *s.aliases))
        default = s.default
        if isinstance(default, tuple):
            default = ",".join(default) if default else ""
        shown = "unset" if default is None or default == "" else f"`{default}`"
        lines.append(f"| {names} | {shown} | {s.doc} |")
    return "\n".join(lines)
