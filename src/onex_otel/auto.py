"""Zero-code setup: what ``opentelemetry-instrument`` runs of onex-otel.

``opentelemetry-instrument`` (with the ``opentelemetry-distro`` configurator, in the ``instrument``
extra) builds the SDK TracerProvider from the environment: ``OTEL_TRACES_EXPORTER=otlp`` sends spans
to a Collector/Jaeger, ``onex_kafka`` publishes OnexEnvelopeV1 events (our exporter's entry point),
``otlp,onex_kafka`` does both. After the instrumentors have loaded, it calls the
``opentelemetry_post_instrument`` entry points, among them :func:`post_instrument`, which installs
the onex-otel core onto that provider:

- the id generator that makes a run's trace id its correlation id (also available on its own as
  ``OTEL_PYTHON_ID_GENERATOR=onex``);
- the processor that stamps correlation id, session id, agent name and execution id onto every span
  inside an execution, other instrumentations' spans (psycopg, HTTP clients) included.

The exporters stay those the environment chose: a later ``onex_otel.configure()`` call in the
agent (harmless, and needed when the same script also runs without ``opentelemetry-instrument``)
adds no second OTLP or Kafka exporter to this provider.
"""

from __future__ import annotations

import logging

__all__ = ["post_instrument"]

_log = logging.getLogger("onex_otel")


def post_instrument() -> None:
    """Install the onex-otel core onto the TracerProvider ``opentelemetry-instrument`` built."""
    try:
        from opentelemetry import trace

        from onex_otel import _configure
        from onex_otel._payload import Policy, set_policy
        from onex_otel.config import load_settings

        provider = trace.get_tracer_provider()
        if not _configure.install_core(provider):  # reported there, naming the provider's type
            return
        set_policy(Policy.from_settings(load_settings()))
        # Exporters are the environment's (OTEL_TRACES_EXPORTER): configure() must not add more.
        _configure.mark_exporters_managed(provider)
    except Exception:  # never break the instrumented program
        _log.warning("onex-otel post-instrument setup failed", exc_info=True)
