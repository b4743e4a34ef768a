"""The in-test OTLP receiver really speaks OTLP/gRPC with the SDK's exporter."""

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.services.otlp import OtlpReceiver


def test_receiver_gets_spans_over_grpc(otlp_receiver: OtlpReceiver) -> None:
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp_receiver.endpoint, insecure=True))
    )
    tracer = provider.get_tracer("t")
    with (
        tracer.start_as_current_span("parent") as parent,
        tracer.start_as_current_span("child", attributes={"k": "v", "n": 3}),
    ):
        pass
    provider.shutdown()
    spans = otlp_receiver.wait_for(lambda s: len(s) >= 2)
    by_name = {s.name: s for s in spans}
    assert by_name["child"].parent_span_id == by_name["parent"].span_id
    assert by_name["child"].trace_id == format(parent.get_span_context().trace_id, "032x")
    assert by_name["child"].attributes == {"k": "v", "n": 3}
