"""``configure()``: one call that sets up tracing for an agent process.

- Uses the TracerProvider already installed (for example by ``opentelemetry-instrument``) and
  adds to it; creates and installs an SDK TracerProvider only when none is.
- Installs the core onto the provider: the id generator that makes correlation id = trace id and
  the processor that stamps execution attributes onto every span (first in line, so processors
  added later already see the attributes in ``on_start``).
- Exports over OTLP (a BatchSpanProcessor) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or the
  ``otlp_endpoint`` argument says so.
- When Kafka publishing is enabled (``KAFKA_BOOTSTRAP_SERVERS`` set, ``KAFKA_ENABLE_LOGGING`` not
  false), plugs in the Kafka exporter found through the ``opentelemetry_traces_exporter`` entry
  point named ``onex_kafka`` (see :func:`install_kafka`).
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
from onex_otel._internal import internal_error
from onex_otel.config import Settings, load_settings

__all__ = ["KAFKA_ENTRY_POINT", "KAFKA_ENTRY_POINT_GROUP", "configure", "install_core",
           "install_kafka"]

_log = logging.getLogger("onex_otel")

#: Entry point group and name under which the Kafka exporter registers itself.
KAFKA_ENTRY_POINT_GROUP = "opentelemetry_traces_exporter"
KAFKA_ENTRY_POINT = "onex_kafka"

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


def install_core(provider: Any) -> bool:
    """Install the correlation-id generator and execution attribute processor onto ``provider``.

    ``provider`` must be an SDK TracerProvider (anything with ``add_span_processor`` and an
    ``id_generator``); returns False for other providers. Idempotent.
    """
    if not hasattr(provider, "add_span_processor"):
        return False
    if not _mark(provider, "core"):
        return True
    from onex_otel._processor import ExecutionAttributesProcessor

    install_id_generator(provider)
    for tracer in list(getattr(provider, "_tracers", {}).values()):  # tracers made before us
        install_id_generator(tracer)
    _add_first(provider, ExecutionAttributesProcessor())
    return True


def _add_first(provider: Any, processor: Any) -> None:
    """Add ``processor`` in front of the provider's processors (fallback: at the end)."""
    multi = getattr(provider, "_active_span_processor", None)
    lock = getattr(multi, "_lock", None)
    if multi is not None and lock is not None and isinstance(
        getattr(multi, "_span_processors", None), tuple
    ):
        with lock:
            multi._span_processors = (processor, *multi._span_processors)
        return
    provider.add_span_processor(processor)


def _otlp_exporter(settings: Settings) -> Any:
    endpoint = settings.otlp_endpoint or ""
    if settings.otlp_protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        url = endpoint if endpoint.rstrip("/").endswith("/v1/traces") else \
            endpoint.rstrip("/") + "/v1/traces"
        return HttpExporter(endpoint=url)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcExporter,
    )

    return GrpcExporter(endpoint=endpoint)


def install_otlp(provider: Any, settings: Settings) -> bool:
    """Export over OTLP to ``settings.otlp_endpoint`` (a BatchSpanProcessor, once per endpoint)."""
    if not settings.otlp_endpoint:
        return False
    if not _mark(provider, f"otlp:{settings.otlp_protocol}:{settings.otlp_endpoint}"):
        return True
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings)))
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
    from importlib.metadata import entry_points

    found = list(entry_points(group=KAFKA_ENTRY_POINT_GROUP, name=KAFKA_ENTRY_POINT))
    if not found:
        _warn_once("kafka.missing", "Kafka publishing is enabled but the %r exporter is not "
                   "installed (entry point %s); spans are not published to Kafka",
                   KAFKA_ENTRY_POINT, KAFKA_ENTRY_POINT_GROUP)
        return False
    if not _mark(provider, "kafka"):
        return True
    entry = found[0]
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
    _warn_once("kafka.hook", "the %r entry point offers neither install(provider, settings) nor "
               "lifecycle_processor; spans are not published to Kafka", KAFKA_ENTRY_POINT)
    return False


def mark_exporters_managed(provider: Any, settings: Settings) -> None:
    """Note that ``provider``'s exporters were chosen elsewhere (``OTEL_TRACES_EXPORTER``).

    :func:`configure` then adds neither an OTLP nor a Kafka exporter to it, so spans are not
    exported twice when an agent calls ``configure()`` under ``opentelemetry-instrument``.
    """
    _mark(provider, f"otlp:{settings.otlp_protocol}:{settings.otlp_endpoint}")
    _mark(provider, "kafka")


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
    its attribute name (``capture_content=False``, ``max_payload_bytes=4096``, ...).
    ``tracer_provider``: the SDK TracerProvider to use (default: the global one if it is an SDK
    provider, else a new one, installed globally). ``meter_provider``: record metrics through this
    provider instead of the global one. Raises :class:`~onex_otel.config.ConfigError` for an
    invalid setting.
    """
    global _atexit_registered
    settings = load_settings(service_name=service_name, otlp_endpoint=otlp_endpoint, **options)
    _payload.set_policy(_payload.Policy.from_settings(settings))
    if meter_provider is not None:
        _metrics.set_meter_provider(meter_provider)
    with _lock:
        provider = tracer_provider or _global_sdk_provider()
        if provider is None:
            provider = _new_provider(settings)
        if isinstance(_trace_api.get_tracer_provider(), _trace_api.ProxyTracerProvider):
            _trace_api.set_tracer_provider(provider)
        if not install_core(provider):
            _warn_once("configure.provider", "the installed TracerProvider %r is not an SDK "
                       "TracerProvider; onex-otel cannot add to it", type(provider).__name__)
            return settings
        try:
            install_otlp(provider, settings)
        except Exception:
            internal_error("configure.otlp")
        if settings.kafka_enabled:
            try:
                install_kafka(provider, settings)
            except Exception:
                internal_error("configure.kafka")
        if not _atexit_registered:
            atexit.register(_flush_at_exit)
            _atexit_registered = True
    return settings


def _global_sdk_provider() -> Any:
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
