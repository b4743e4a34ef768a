"""A producing process for the outage, restart and fork tests (run with ``python -m``).

Usage: ``python -m tests.exporters.producer_proc MODE BOOTSTRAP SPOOL_DIR PREFIX [N]``

- ``produce``: run N executions, print the published events as JSON lines
  (topic suffix, correlation id, event id), shut down normally.
- ``resend``: build an exporter only, wait until the spool is empty, print its stats, exit.
- ``short``: one execution, then an immediate normal shutdown (a short-lived process, e.g. a
  CLI hook); prints its events and stats like ``produce``.
- ``fork``: start the exporter, publish, fork; the child runs one execution and exits 0 when
  it delivered; the parent prints the child's correlation id and exit status.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from onex_exporters.lifecycle import OnexLifecycleProcessor
from tests.exporters.helpers import RecordingExporter, run_executions, settings_for
from tests.exporters.spans import SpanFactory


def main() -> int:
    mode, bootstrap, spool_dir, prefix = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    settings = settings_for(bootstrap, spool_dir, topic_prefix=prefix, kafka_delivery_timeout_ms=1500)
    exporter = RecordingExporter(settings, attach_lifecycle=False, shutdown_timeout_s=3.0)
    provider = TracerProvider()
    factory = SpanFactory(provider)
    provider.add_span_processor(OnexLifecycleProcessor(exporter))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    if mode in ("produce", "short"):
        run_executions(factory, count if mode == "produce" else 1)
        provider.shutdown()
        for r in exporter.published:
            print(json.dumps([r.event_type.value, r.correlation_id, r.event_id]))
        print(json.dumps({"stats": exporter.stats()}))
        return 0
    if mode == "resend":
        exporter._ensure_started()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = exporter.stats()
            if stats["spool_bytes"] == 0 and stats["resent"] > 0 and stats["in_flight"] == 0:
                break
            time.sleep(0.1)
        provider.shutdown()
        print(json.dumps({"stats": exporter.stats()}))
        return 0
    if mode == "fork":
        run_executions(factory, 1)  # the parent's producer and I/O thread are running
        assert exporter.force_flush(10_000)
        pid = os.fork()
        if pid == 0:
            cid = uuid.uuid4()
            with factory.execution(correlation_id=cid):
                pass
            provider.force_flush()
            ok = exporter.force_flush(10_000)
            stats = exporter.stats()
            print(json.dumps({"child": str(cid), "stats": stats}), flush=True)
            os._exit(0 if ok and stats["delivered"] >= 4 and stats["spooled"] == 0 else 3)
        _, status = os.waitpid(pid, 0)
        # the parent still works after the fork
        run_executions(factory, 1)
        provider.shutdown()
        print(
            json.dumps({"parent_status": os.waitstatus_to_exitcode(status), "parent_stats": exporter.stats()})
        )
        return 0
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main())
