"""``configure()``: one call that sets up tracing for an agent process.

- Uses the TracerProvider already installed (for example by ``opentelemetry-instrument``,
  ``logfire.configure()`` or ``Traceloop.init()``) and adds to the OpenTelemetry SDK
  TracerProvider it is or wraps (logfire's proxy provider wraps one, see :func:`sdk_provider`);
  creates and installs an SDK TracerProvider only when none is installed. A provider that neither is
  nor wraps an SDK TracerProvider is reported once, as a WARNING naming its type, and counted
  (``internal_error_counts()``): onex-otel then adds nothing to it.
- Installs the core onto the provider: the id generator that makes correlation id = trace id and
  the processor that stamps execution attributes onto every span (first in line, so processors
  added later already see the attributes in ``on_start``).
- Adds the span exporters ``OTEL_TRACES_EXPORTER`` names (``otlp``, ``console``, ``none``, or any
  ``opentelemetry_traces_exporter`` entry point, as ``opentelemetry-instrument`` does); unset, it
  exports over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``otlp_endpoint``) is set and to Kafka
  when Kafka publishing is enabled (``KAFKA_BOOTSTRAP_SERVERS`` set, ``KAFKA_ENABLE_LOGGING`` not
  false) through the entry point named ``onex_kafka`` (see :func:`install_kafka`).
- When spans end up going nowhere, says so once (a WARNING on the ``onex_otel`` logger, printed on
  stderr even where logging is not configured) with the variables that send them somewhere.
- Flushes pending spans at interpreter exit. Calling it again is harmless: nothing is installed
  twice.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import threading
import weakref
from typing import Any

from opentelemetry import metrics as _metrics_api
from opentelemetry import trace as _trace_api

from onex_otel import _metrics, _payload
from onex_otel._idgen import install_id_generator
from onex_otel._internal import degraded, internal_error
from onex_otel.config import Settings, load_settings, parse_list

__all__ = [
    "EXPORTER_ENTRY_POINT_GROUP",
    "KAFKA_ENTRY_POINT",
    "KAFKA_ENTRY_POINT_GROUP",
    "configure",
    "install_core",
    "install_exporter",
    "install_kafka",
    "sdk_provider",
]

_log = logging.getLogger("onex_otel")

#: Entry point group of span exporters (the one ``OTEL_TRACES_EXPORTER`` names are looked up in).
EXPORTER_ENTRY_POINT_GROUP = "opentelemetry_traces_exporter"
#: Entry point group and name under which the Kafka exporter registers itself.
KAFKA_ENTRY_POINT_GROUP = EXPORTER_ENTRY_POINT_GROUP
KAFKA_ENTRY_POINT = "onex_kafka"
#: The OTLP exporters' entry points by protocol (what the SDK's configurator maps ``otlp`` to).
_OTLP_ENTRY_POINTS = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
#: ``OTEL_TRACES_EXPORTER`` names of OTLP and their protocol (``otlp``: the configured one).
_OTLP_NAMES: dict[str, str | None] = {
    "otlp": None,
    **{name: protocol for protocol, name in _OTLP_ENTRY_POINTS.items()},
}
_NONE = "none"
#: Attributes under which wrapping providers keep the provider they delegate to (logfire's
#: ``ProxyTracerProvider``: ``provider``); followed only when they hold a TracerProvider.
_WRAPPED_ATTRS = ("provider", "_provider", "tracer_provider", "_tracer_provider", "_delegate")
_MAX_WRAPPING = 8
_MANAGED = "exporters:managed"

_lock = threading.RLock()
_MARK = "_onex_otel_installed"
_done_by_id: dict[int, set[str]] = {}  # for providers that take no attributes
_providers: weakref.WeakSet[Any] = weakref.WeakSet()  # providers to flush at exit
_atexit_registered = False
_warned: set[str] = set()


def _mark(provider: Any, what: str) -> bool:
    """Mark ``what`` as installed on ``provider``; False if it already was."""
    with _lock:
        done = getattr(provider, _MARK, None)
        if not isinstance(done, set):
            done = set()
            try:
                setattr(provider, _MARK, done)
            except (AttributeError, TypeError):
                done = _done_by_id.setdefault(id(provider), done)
        if what in done:
            return False
        done.add(what)
        with contextlib.suppress(TypeError):
            _providers.add(provider)
        return True


def _warn_once(kind: str, message: str, *args: Any) -> None:
    with _lock:
        if kind in _warned:
            return
        _warned.add(kind)
    _log.warning(message, *args)


def _marked(provider: Any, what: str) -> bool:
    with _lock:
        done = getattr(provider, _MARK, None)
        if not isinstance(done, set):
            done = _done_by_id.get(id(provider), set())
        return what in done


def _is_sdk(provider: Any) -> bool:
    try:
        return hasattr(provider, "add_span_processor") and hasattr(provider, "id_generator")
    except Exception:  # a property of someone else's provider that fails
        return False


def _wrapped(provider: Any) -> Any:
    for name in _WRAPPED_ATTRS:
        try:
            inner = getattr(provider, name, None)
        except Exception:
            continue
        if isinstance(inner, _trace_api.TracerProvider) and inner is not provider:
            return inner
    return None


def sdk_provider(provider: Any) -> Any:
    """The OpenTelemetry SDK TracerProvider that ``provider`` is or wraps; None when there is none.

    An SDK provider is anything with ``add_span_processor`` and an ``id_generator``: the SDK's
    ``TracerProvider`` and its subclasses, among them the providers ``opentelemetry-instrument`` and
    ``Traceloop.init()`` install. A wrapper is followed to the TracerProvider it delegates to when it
    keeps it under a usual attribute name: logfire's ``ProxyTracerProvider`` keeps its SDK provider
    as ``provider``.
    """
    seen: set[int] = set()
    current = provider
    for _ in range(_MAX_WRAPPING):
        if current is None or id(current) in seen:
            return None
        if _is_sdk(current):
            return current
        seen.add(id(current))
        current = _wrapped(current)
    return None


def install_core(provider: Any) -> bool:
    """Install the correlation-id generator and execution attribute processor onto ``provider``.

    They go onto the SDK TracerProvider that ``provider`` is or wraps (:func:`sdk_provider`).
    When there is none, nothing is installed: a WARNING naming the provider's type is logged once,
    the case is counted (kind ``provider.unsupported``) and False is returned. Idempotent.
    """
    target = sdk_provider(provider)
    if target is None:
        kind = type(provider)
        degraded(
            "provider.unsupported",
            "onex-otel: the TracerProvider in use, %s, is not an "
            "OpenTelemetry SDK TracerProvider and wraps none; onex-otel adds nothing to it: "
            "trace ids are NOT correlation ids and onex-otel exports nothing (give "
            "configure(tracer_provider=...) an SDK TracerProvider)",
            f"{kind.__module__}.{kind.__qualname__}",
        )
        return False
    if not _mark(target, "core"):
        return True
    from onex_otel._processor import ExecutionAttributesProcessor

    install_id_generator(target)
    for tracer in list(getattr(target, "_tracers", {}).values()):  # tracers made before us
        install_id_generator(tracer)
    _add_first(target, ExecutionAttributesProcessor())
    return True


def _add_first(provider: Any, processor: Any) -> None:
    """Add ``processor`` in front of the provider's processors (fallback: at the end)."""
    multi = getattr(provider, "_active_span_processor", None)
    lock = getattr(multi, "_lock", None)
    if multi is not None and lock is not None and isinstance(getattr(multi, "_span_processors", None), tuple):
        with lock:
            multi._span_processors = (processor, *multi._span_processors)
        return
    provider.add_span_processor(processor)


def _entry_point(name: str) -> Any:
    """The span exporter entry point called ``name``, or None when no distribution offers it."""
    from importlib.metadata import entry_points

    found = list(entry_points(group=EXPORTER_ENTRY_POINT_GROUP, name=name))
    return found[0] if found else None


def _otlp_exporter(settings: Settings, protocol: str) -> Any:
    """The OTLP exporter of ``protocol``, the class found through its entry point.

    With ``settings.otlp_endpoint`` it exports there; without, the exporter reads its own standard
    variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ...) or uses its default (localhost).
    """
    http = protocol == "http/protobuf"
    name = _OTLP_ENTRY_POINTS[protocol]
    entry = _entry_point(name)
    if entry is None:
        raise RuntimeError(f"no {name!r} exporter is installed (opentelemetry-exporter-otlp)")
    exporter_class = entry.load()
    endpoint = settings.otlp_endpoint
    if not endpoint:
        return exporter_class()
    if http and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return exporter_class(endpoint=endpoint)


def install_otlp(provider: Any, settings: Settings, protocol: str | None = None) -> bool:
    """Export over OTLP (a BatchSpanProcessor, once per protocol and endpoint).

    ``protocol``: ``grpc`` or ``http/protobuf`` (default ``settings.otlp_protocol``); the endpoint
    is ``settings.otlp_endpoint`` or, unset, the OTLP exporter's own default.
    """
    protocol = protocol or settings.otlp_protocol
    if not _mark(provider, f"otlp:{protocol}:{settings.otlp_endpoint or ''}"):
        return True
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings, protocol)))
    return True


def install_exporter(provider: Any, name: str, settings: Settings) -> bool:
    """Add the span exporter that ``OTEL_TRACES_EXPORTER`` calls ``name`` (once per name).

    ``otlp`` (``otlp_proto_grpc``, ``otlp_proto_http``): :func:`install_otlp`; ``onex_kafka``:
    :func:`install_kafka`; any other name: the class of the ``opentelemetry_traces_exporter`` entry
    point of that name (``console`` is the SDK's ``ConsoleSpanExporter``), built without arguments
    behind a BatchSpanProcessor, as ``opentelemetry-instrument`` does. A name that no installed
    distribution offers, or that is not a SpanExporter, is reported once (WARNING, counted) and
    skipped; returns whether the exporter is in place.
    """
    if name in _OTLP_NAMES:
        return install_otlp(provider, settings, _OTLP_NAMES[name])
    if name == KAFKA_ENTRY_POINT:
        return install_kafka(provider, settings)
    if _marked(provider, f"exporter:{name}"):
        return True
    entry = _entry_point(name)
    if entry is None:
        degraded(
            f"exporter.missing:{name}",
            "onex-otel: OTEL_TRACES_EXPORTER names %r but no "
            "installed package offers an exporter of that name (entry point group %s); "
            "spans are not sent there",
            name,
            EXPORTER_ENTRY_POINT_GROUP,
        )
        return False
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

    exporter_class = entry.load()
    if not (isinstance(exporter_class, type) and issubclass(exporter_class, SpanExporter)):
        degraded(
            f"exporter.invalid:{name}",
            "onex-otel: the %r exporter entry point (%s) is not a SpanExporter; spans are not sent there",
            name,
            entry.value,
        )
        return False
    if _mark(provider, f"exporter:{name}"):
        provider.add_span_processor(BatchSpanProcessor(exporter_class()))
    return True


def install_kafka(provider: Any, settings: Settings) -> bool:
    """Plug the Kafka exporter into ``provider`` through its entry point; False when absent.

    The entry point ``onex_kafka`` in group ``opentelemetry_traces_exporter`` is looked up. Its
    module's ``install(provider, settings)`` is called when present (the preferred hook: it adds
    every processor the exporter needs). Otherwise, when the entry point object has a
    ``lifecycle_processor`` factory, ``lifecycle_processor(settings)`` is added as a span processor
    and the object itself is instantiated with ``settings=settings`` and added behind a
    BatchSpanProcessor. A missing entry point is logged once; tracing continues without Kafka.
    """
    entry = _entry_point(KAFKA_ENTRY_POINT)
    if entry is None:
        _warn_once(
            "kafka.missing",
            "Kafka publishing is enabled but the %r exporter is not "
            "installed (entry point %s); spans are not published to Kafka",
            KAFKA_ENTRY_POINT,
            KAFKA_ENTRY_POINT_GROUP,
        )
        return False
    if not _mark(provider, "kafka"):
        return True
    target = entry.load()
    module = importlib.import_module(entry.module)
    install = getattr(module, "install", None)
    if install is None and "." in entry.module:  # install() in the entry point's package
        package = importlib.import_module(entry.module.rpartition(".")[0])
        install = getattr(package, "install", None)
    if callable(install):
        install(provider, settings)
        return True
    factory = getattr(target, "lifecycle_processor", None)
    if callable(factory):
        provider.add_span_processor(factory(settings))
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(target(settings=settings)))
        return True
    _warn_once(
        "kafka.hook",
        "the %r entry point offers neither install(provider, settings) nor "
        "lifecycle_processor; spans are not published to Kafka",
        KAFKA_ENTRY_POINT,
    )
    return False


def mark_exporters_managed(provider: Any) -> None:
    """Note that ``provider``'s exporters were chosen elsewhere (``OTEL_TRACES_EXPORTER``).

    :func:`configure` then adds no exporter to it, so spans are not exported twice when an agent
    calls ``configure()`` under ``opentelemetry-instrument``.
    """
    target = sdk_provider(provider)
    if target is not None:
        _mark(target, _MANAGED)


def _exporter_names(settings: Settings, explicit: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The exporters to add: those ``OTEL_TRACES_EXPORTER`` names, else OTLP and/or Kafka.

    ``explicit``: exporters asked for by an argument of :func:`configure` (``otlp_endpoint``,
    ``kafka_bootstrap_servers``); an explicit argument beats the environment, so they are added to
    what ``OTEL_TRACES_EXPORTER`` names.
    """
    if settings.traces_exporter is None:
        names = []
        if settings.otlp_endpoint:
            names.append("otlp")
        if settings.kafka_enabled:
            names.append(KAFKA_ENTRY_POINT)
        return tuple(names)
    names = [name for name in settings.traces_exporter if name.lower() != _NONE]
    if "otlp" in explicit and not any(name in _OTLP_NAMES for name in names):
        names.append("otlp")
    if KAFKA_ENTRY_POINT in explicit and KAFKA_ENTRY_POINT not in names:
        names.append(KAFKA_ENTRY_POINT)
    return tuple(names)


def _exports_somewhere(provider: Any) -> bool:
    """Whether ``provider`` has a span processor besides onex-otel's (True when unknown)."""
    from onex_otel._processor import ExecutionAttributesProcessor

    multi = getattr(provider, "_active_span_processor", None)
    processors = getattr(multi, "_span_processors", None)
    if not isinstance(processors, tuple):
        return True
    return any(not isinstance(p, ExecutionAttributesProcessor) for p in processors)


_NOWHERE = (
    "onex-otel: no span exporter is configured, spans go nowhere. To send them somewhere "
    "set OTEL_EXPORTER_OTLP_ENDPOINT (OTLP: a Collector, Jaeger), "
    "OTEL_TRACES_EXPORTER=console (print them) or KAFKA_BOOTSTRAP_SERVERS (events on "
    "Kafka); OTEL_TRACES_EXPORTER=none silences this message"
)


def _flush_at_exit() -> None:
    """Flush the providers onex-otel added exporters to, as the process exits.

    A provider that shuts itself down at exit (the SDK default) is shut down here instead of
    being flushed first: a flush, then the shutdown, would each wait for an unreachable Kafka,
    doubling the exit time that each exporter bounds on its own.
    """
    for provider in list(_providers):
        try:
            if getattr(provider, "_atexit_handler", None) is not None:
                provider.shutdown()
            else:
                provider.force_flush(5000)
        except Exception:
            _log.debug("flush at exit failed", exc_info=True)


def configure(
    service_name: str | None = None,
    *,
    otlp_endpoint: str | None = None,
    tracer_provider: Any = None,
    meter_provider: _metrics_api.MeterProvider | None = None,
    **options: Any,
) -> Settings:
    """Set up tracing for this process; returns the settings in force.

    ``service_name`` and ``otlp_endpoint`` override ``OTEL_SERVICE_NAME`` and
    ``OTEL_EXPORTER_OTLP_ENDPOINT``; every other setting of :mod:`onex_otel.config` can be given by
    its attribute name (``capture_content=False``, ``max_payload_bytes=4096``,
    ``traces_exporter="console"``, ...). ``tracer_provider``: the TracerProvider to use (default:
    the global one unless none is installed, else a new SDK provider, installed globally); onex-otel
    adds to the SDK provider it is or wraps. ``meter_provider``: record metrics through this
    provider instead of the global one. Raises :class:`~onex_otel.config.ConfigError` for an
    invalid setting.
    """
    global _atexit_registered
    if isinstance(options.get("traces_exporter"), str):
        options["traces_exporter"] = parse_list(options["traces_exporter"])
    settings = load_settings(service_name=service_name, otlp_endpoint=otlp_endpoint, **options)
    _payload.set_policy(_payload.Policy.from_settings(settings))
    if meter_provider is not None:
        _metrics.set_meter_provider(meter_provider)
    with _lock:
        provider = tracer_provider or _installed_provider()
        if provider is None:
            provider = _new_provider(settings)
        if isinstance(_trace_api.get_tracer_provider(), _trace_api.ProxyTracerProvider):
            _trace_api.set_tracer_provider(provider)
        if not install_core(provider):  # reported there, naming the provider's type
            return settings
        target = sdk_provider(provider)
        if not _marked(target, _MANAGED):
            explicit = tuple(
                name
                for name, given in (
                    ("otlp", otlp_endpoint),
                    (KAFKA_ENTRY_POINT, options.get("kafka_bootstrap_servers")),
                )
                if given
            )
            names = _exporter_names(settings, explicit)
            for name in names:
                try:
                    install_exporter(target, name, settings)
                except Exception:
                    internal_error(f"configure.{_error_kind(name)}")
            if (names or settings.traces_exporter is None) and not _exports_somewhere(target):
                _warn_once("configure.nowhere", _NOWHERE)
        if not _atexit_registered:
            atexit.register(_flush_at_exit)
            _atexit_registered = True
    return settings


def _error_kind(exporter: str) -> str:
    if exporter in _OTLP_NAMES:
        return "otlp"
    return "kafka" if exporter == KAFKA_ENTRY_POINT else "exporter"


def _installed_provider() -> Any:
    """The global TracerProvider, or None while none is installed (the API's proxy or no-op)."""
    provider = _trace_api.get_tracer_provider()
    if isinstance(provider, (_trace_api.ProxyTracerProvider, _trace_api.NoOpTracerProvider)):
        return None
    return provider


def _new_provider(settings: Settings) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from onex_otel._idgen import OnexIdGenerator

    attributes: dict[str, Any] = {"deployment.environment.name": settings.environment}
    if settings.service_name:
        attributes["service.name"] = settings.service_name
    return TracerProvider(resource=Resource.create(attributes), id_generator=OnexIdGenerator())
