'use strict';
// A small agent on the official OpenTelemetry JavaScript SDK: one `invoke_agent` span with a
// child `execute_tool` span, GenAI semantic-convention attributes, exported over OTLP/HTTP
// (OTLP/JSON, this exporter's encoding) to OTLP_TRACES_URL. AGENT_TRACE_ID (32 hex digits),
// when set, is the trace id of the run (the correlation id downstream). Exits non-zero when
// the export fails.

const { trace, context, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { ExportResultCode } = require('@opentelemetry/core');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');
const {
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
} = require('@opentelemetry/semantic-conventions/incubating');
const crypto = require('node:crypto');

const url = process.env.OTLP_TRACES_URL;
if (!url) {
  console.error('OTLP_TRACES_URL is not set');
  process.exit(2);
}
const traceId = process.env.AGENT_TRACE_ID;

/** Passes spans to the OTLP exporter and remembers whether every export succeeded. */
class CheckedExporter {
  constructor(inner) {
    this.inner = inner;
    this.failures = 0;
  }

  export(spans, done) {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.failures += 1;
        console.error(`export failed: ${result.error}`);
      }
      done(result);
    });
  }

  shutdown() {
    return this.inner.shutdown();
  }

  forceFlush() {
    return this.inner.forceFlush();
  }
}

const exporter = new CheckedExporter(new OTLPTraceExporter({ url, timeoutMillis: 10000 }));
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'node-research-agent' }),
  idGenerator: {
    generateTraceId: () => traceId || crypto.randomBytes(16).toString('hex'),
    generateSpanId: () => crypto.randomBytes(8).toString('hex'),
  },
  spanProcessors: [new BatchSpanProcessor(exporter)],
});
const tracer = provider.getTracer('node-research-agent', '1.0.0');

function webSearch(args, parent) {
  const span = tracer.startSpan('execute_tool web_search', {
    kind: SpanKind.INTERNAL,
    attributes: {
      [ATTR_GEN_AI_OPERATION_NAME]: 'execute_tool',
      [ATTR_GEN_AI_TOOL_NAME]: 'web_search',
      [ATTR_GEN_AI_TOOL_CALL_ID]: 'call_0001',
      [ATTR_GEN_AI_TOOL_TYPE]: 'function',
      [ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]: JSON.stringify(args),
    },
  }, parent);
  try {
    return [`result for ${args.query}`];
  } finally {
    span.setStatus({ code: SpanStatusCode.OK });
    span.end();
  }
}

async function main() {
  const agent = tracer.startSpan('invoke_agent research-agent', {
    kind: SpanKind.INTERNAL,
    attributes: {
      [ATTR_GEN_AI_OPERATION_NAME]: 'invoke_agent',
      [ATTR_GEN_AI_AGENT_NAME]: 'research-agent',
      [ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
      [ATTR_GEN_AI_REQUEST_MODEL]: 'gpt-4o',
      'session.id': 'node-session-1',
    },
  });
  // the parent is passed explicitly: a bare provider registers no context manager
  webSearch({ query: 'otlp bridge', max_results: 3 }, trace.setSpan(context.active(), agent));
  agent.setStatus({ code: SpanStatusCode.OK });
  agent.end();
  await provider.forceFlush();
  await provider.shutdown();
  if (exporter.failures) {
    process.exit(1);
  }
  console.log(JSON.stringify({ traceId: agent.spanContext().traceId }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
