"""The example agent, traced end to end.

Routing, a transformation, an execution with tool calls, a decision, a recovered error and a
database query. The code lives in ``onex_otel/example.py`` (shipped with the package, so that
``onex-otel demo`` can run it anywhere); read it there. Run it::

    python examples/agent.py
    OTEL_TRACES_EXPORTER=otlp,onex_kafka opentelemetry-instrument python examples/agent.py
"""

import sys

from onex_otel.example import main

if __name__ == "__main__":
    sys.exit(main())
