"""Structural checks of the Collector config and the compose stack (Docker does not run here)."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_every_component_a_pipeline_names_is_defined() -> None:
    cfg = _load(ROOT / "otel-collector.yaml")
    pipelines = cfg["service"]["pipelines"]
    assert "traces" in pipelines
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                assert name in (cfg.get(kind) or {}), f"{kind[:-1]} {name!r} is not defined"
    for ext in cfg["service"].get("extensions", []):
        assert ext in cfg["extensions"]
    traces = pipelines["traces"]
    assert traces["processors"][0] == "memory_limiter", "memory_limiter must come first"
    assert "batch" in traces["processors"]
    assert set(cfg["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    jaeger = [n for n in traces["exporters"] if n.startswith("otlp")]
    assert jaeger and cfg["exporters"][jaeger[0]]["endpoint"].startswith("jaeger:")


def test_compose_stack_is_consistent() -> None:
    compose_file = ROOT / "collector" / "docker-compose.yml"
    compose = _load(compose_file)
    services = compose["services"]
    assert {"kafka", "postgres", "jaeger", "otel-collector", "onex-collector"} <= set(services)
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on undefined {dep}"
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert (compose_file.parent / src).resolve().exists(), f"{name}: missing {src}"
        build = svc.get("build")
        if build:
            context = (compose_file.parent / build["context"]).resolve()
            assert (context / build["dockerfile"]).exists()
            assert (context / "pyproject.toml").exists()
    onex = services["onex-collector"]
    assert "migrate" in " ".join(onex["command"])
    assert onex["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector:")


def test_the_collector_writes_otlp_to_kafka_for_the_bridge_and_compose_runs_it() -> None:
    from onex_otel import conventions as c

    cfg = _load(ROOT / "otel-collector.yaml")
    kafka = cfg["exporters"]["kafka/onex"]
    assert kafka["traces"] == {"topic": c.OTLP_SPANS_TOPIC, "encoding": c.ENCODING_OTLP_PROTO}
    assert kafka["logs"] == {"topic": c.OTLP_LOGS_TOPIC, "encoding": c.ENCODING_OTLP_PROTO}
    pipelines = cfg["service"]["pipelines"]
    assert "kafka/onex" in pipelines["traces/onex"]["exporters"]
    assert "kafka/onex" in pipelines["logs/onex"]["exporters"]
    services = _load(ROOT / "collector" / "docker-compose.yml")["services"]
    assert kafka["brokers"] == [services["onex-bridge"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"]]
    assert "contrib" in services["otel-collector"]["image"]  # the core image has no Kafka exporter
    assert services["onex-bridge"]["command"][-1] == "bridge"
    assert services["onex-bridge"]["build"] == services["onex-collector"]["build"]
