"""onex-otel: OpenTelemetry instrumentation for AI agents.

(The instrumentation API is filled in by the core module; see the README.)
"""

from onex_otel.config import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
