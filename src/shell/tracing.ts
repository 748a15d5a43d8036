/**
 * OpenTelemetry traces, exported over OTLP (http/protobuf) when the standard environment asks for
 * it (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_SERVICE_NAME`,
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`... as the SDK reads them). Without an
 * endpoint, or with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`, nothing is loaded:
 * `startTracing` returns undefined, the operator derives no spans, and the executor's spans are the
 * API's no-op ones.
 *
 * The operator's spans are completed spans: derived from each committed status change
 * (src/core/trace-spans.ts) with their recorded start and end and ids from the workflow's uid, and
 * handed to the SDK's batch processor as ended spans. The global tracer provider is registered too,
 * for spans made as work happens (the executor's).
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Context,
  type HrTime,
  type Span,
} from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Resource } from '@opentelemetry/resources';
import type {
  KubernetesExecution,
  KubernetesExecutionStatus,
  WorkflowExecution,
} from '../api/generated/types.ts';
import { TRACEPARENT_ANNOTATION } from './children.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { parseTraceparent, spansEnded, type CompletedSpan } from '../core/trace-spans.ts';
import { ALERT_TRACEPARENT_ANNOTATION } from '../core/alerts.ts';
import type { Logger } from './logger.ts';

export interface Tracing {
  /** Exports the spans the commit from `before` (the status as it was written) to `after` ended. */
  committed(
    workflow: WorkflowExecution,
    before: WorkflowSnapshot | null,
    after: WorkflowSnapshot,
    plan: ExecutionPlan,
  ): void;
  /** Exports what is queued and stops. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/**
 * Whether the environment asks for traces; a setting this cannot honour is refused, naming it.
 * Returns false when no endpoint is configured.
 */
export function tracingRequested(env: Env): boolean {
  if ((env['OTEL_SDK_DISABLED'] ?? '').toLowerCase() === 'true') return false;
  const exporter = (env['OTEL_TRACES_EXPORTER'] ?? 'otlp').toLowerCase();
  if (exporter === 'none') return false;
  if (exporter !== 'otlp')
    throw new Error(`OTEL_TRACES_EXPORTER=${exporter} is not supported: use otlp (or none)`);
  const protocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'];
  if (protocol !== undefined && protocol !== 'http/protobuf')
    throw new Error(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: use http/protobuf (port 4318)`,
    );
  return Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT']);
}

const hrTime = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

const SCOPE = { name: 'workflowexecution-operator' };

function readableSpan(span: CompletedSpan, resource: Resource): ReadableSpan {
  const context = { traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name: span.name,
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    ...(span.parentSpanId === null
      ? {}
      : {
          parentSpanContext: {
            traceId: span.traceId,
            spanId: span.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
          },
        }),
    startTime: hrTime(span.start),
    endTime: hrTime(Math.max(span.start, span.end)),
    duration: hrTime(Math.max(0, span.end - span.start)),
    status:
      span.error === null ? { code: SpanStatusCode.OK } : { code: SpanStatusCode.ERROR, message: span.error },
    attributes: span.attributes,
    links: (span.links ?? []).map((link) => ({
      context: { traceId: link.traceId, spanId: link.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true },
      attributes: link.attributes,
    })),
    events: [],
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/**
 * Traces as the environment configures them, for a service (`OTEL_SERVICE_NAME` wins); undefined
 * when none are asked for. Loads the SDK and the exporter only then.
 */
export async function startTracing(
  serviceName: string,
  log: Logger,
  env: Env = process.env,
): Promise<Tracing | undefined> {
  if (!tracingRequested(env)) return undefined;
  const [{ BatchSpanProcessor, TracerProvider }, { OTLPTraceExporter }, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/resources'),
  ]);
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': serviceName }))
    .merge(
      resources.detectResources({
        detectors: [resources.resourceAttributesEnvDetector, resources.serviceNameEnvDetector],
      }),
    );
  const processor: SpanProcessor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter() });
  const provider = new TracerProvider({ resource, spanProcessors: [processor] });
  trace.setGlobalTracerProvider(provider);
  log.info('exporting traces over OTLP', {
    endpoint: env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'],
    service: resource.attributes['service.name'],
  });
  return {
    committed(workflow, before, after, plan) {
      const uid = workflow.metadata.uid;
      if (!uid) return;
      const spans = spansEnded(before, after, plan, {
        uid,
        name: workflow.metadata.name ?? '',
        namespace: workflow.metadata.namespace ?? '',
        alertTraceparent: workflow.metadata.annotations?.[ALERT_TRACEPARENT_ANNOTATION],
      });
      for (const span of spans) processor.onEnd(readableSpan(span, resource));
    },
    async shutdown() {
      await provider.shutdown();
      trace.disable();
    },
  };
}

/** The W3C trace context the operator gives a child (its attempt's span), or undefined. */
function parentOf(child: KubernetesExecution): Context | undefined {
  const parent = parseTraceparent(child.metadata.annotations?.[TRACEPARENT_ANNOTATION]);
  if (!parent) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.flags,
    isRemote: true,
  });
}

/**
 * The executor's span for carrying out a child, under the child's attempt span (its traceparent
 * annotation); a no-op span unless tracing was started in this process.
 */
export function startChildSpan(child: KubernetesExecution): Span {
  return trace.getTracer('kubernetes-executor').startSpan(
    `carry out ${child.spec.kind} ${child.spec.action}`,
    {
      attributes: {
        'workflow.name': child.spec.workflowExecutionRef.name,
        'workflow.step.number': child.spec.stepNumber,
        'workflow.step.attempt': child.spec.attempt,
        'workflow.step.action': child.spec.action,
        'kubernetesexecution.name': child.metadata.name ?? '',
        'kubernetesexecution.kind': child.spec.kind,
      },
    },
    parentOf(child),
  );
}

/** Ends the executor's span with the status it wrote (none: stopped before it finished). */
export function endChildSpan(span: Span, status: KubernetesExecutionStatus | undefined): void {
  if (status?.phase === 'failed')
    span.setStatus({ code: SpanStatusCode.ERROR, message: status.message ?? '' });
  else if (status) span.setStatus({ code: SpanStatusCode.OK });
  if (status?.phase) span.setAttribute('kubernetesexecution.phase', status.phase);
  span.end();
}
