/**
 * The Alertmanager webhook receiver (`wfx operator --alert-webhook-port N`): POST /alerts with
 * Alertmanager's version 4 payload. It runs in the operator process rather than a Deployment of
 * its own because it needs nothing the operator lacks (a client, the auth of /metrics, the metrics
 * registry) and holds no state: every run it creates has a name derived from the alert, so every
 * replica may serve it behind one Service, and a replay, a retry or two replicas creating the same
 * run meet AlreadyExists. It does not need the leader's lease for the same reason.
 *
 * Authentication is Alertmanager's `http_config.authorization` (a bearer token, e.g. its projected
 * ServiceAccount token): TokenReview, then SubjectAccessReview for `post` on the non-resource URL
 * /alerts. What can be wrong with a notification is answered without a crash: 400 for a body that
 * is not a notification (Alertmanager does not retry it), 413 past the size limit, 503 when busy and
 * 500 when the apiserver fails (both retried by Alertmanager), otherwise 200 with what happened to
 * each alert. Every refusal is logged and counted.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertRoute, WorkflowExecution } from '../api/generated/types.ts';
import {
  notStarted,
  readNotification,
  routeFor,
  runFor,
  runNameOf,
  type Alert,
  type AlertRefusal,
} from '../core/alerts.ts';
import { CANCEL_REQUESTED_BY } from '../core/observe.ts';
import { ApiError, isAlreadyExists, isNotFound, type KubeClient } from './kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from './kube/resources.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { BearerAuthorizer, RunningServer } from './servers.ts';

export const ALERTS_PATH = '/alerts';
/** Alertmanager's notifications are small; a body larger than this is refused unread. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Notifications handled at once; more are answered 503, and Alertmanager sends them again. */
export const MAX_IN_FLIGHT = 8;

const ALERT_ROUTES = '/apis/workflowexecution.kubernaut.io/v1/alertroutes';

export type AlertOutcome = 'created' | 'duplicate' | 'cancelled' | 'ignored' | 'refused';

export interface AlertReceiverOptions {
  client: KubeClient;
  authorize: BearerAuthorizer;
  log: Logger;
  metrics?: OperatorMetrics | undefined;
  port: number;
  host?: string;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

const reply = (res: ServerResponse, status: number, body: unknown) => {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

export class AlertReceiver {
  private readonly o: AlertReceiverOptions;
  private inFlight = 0;
  /** Who this operator is to the apiserver: the name its cancel requests carry. */
  private self: string | undefined;

  constructor(options: AlertReceiverOptions) {
    this.o = options;
  }

  async start(): Promise<RunningServer> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.count('error');
        this.o.log.error('alert notification failed', { error: (error as Error).message });
        reply(res, 500, { error: 'the apiserver could not be reached; send it again' });
      });
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host ?? '0.0.0.0', () => {
        resolve((server.address() as AddressInfo).port);
      });
    });
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    };
  }

  private count(result: string): void {
    this.o.metrics?.alertNotificationsTotal.inc({ result });
  }

  private refuse(res: ServerResponse, status: number, result: string, message: string): void {
    this.count(result);
    this.o.log.warn('alert notification refused', { result, message });
    reply(res, status, { error: message });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if ((req.url ?? '/').split('?')[0] !== ALERTS_PATH) {
      reply(res, 404, { error: 'not found' });
      return;
    }
    if (req.method !== 'POST') {
      this.refuse(res, 405, 'method', `${req.method ?? ''} is not allowed; POST a notification`);
      return;
    }
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const decision = token ? await this.o.authorize(token) : 401;
    if (decision !== 200) {
      this.refuse(
        res,
        decision,
        decision === 401 ? 'unauthorized' : 'forbidden',
        decision === 401 ? 'a valid bearer token is required' : `post on ${ALERTS_PATH} is not allowed`,
      );
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.refuse(res, 503, 'busy', 'too many notifications at once; send it again');
      return;
    }
    this.inFlight++;
    try {
      let body: string;
      try {
        body = await readBody(req);
      } catch (error) {
        if (error instanceof BodyTooLarge) {
          this.refuse(res, 413, 'too_large', `a notification is at most ${MAX_BODY_BYTES} bytes`);
          return;
        }
        throw error;
      }
      const notification = readNotification(body);
      if (!notification.ok) {
        this.refuse(res, 400, 'malformed', `${notification.refusal.reason}: ${notification.refusal.message}`);
        return;
      }
      for (const refusal of notification.refused) this.refused(refusal);
      const routes = (await this.o.client.request<{ items: AlertRoute[] }>(ALERT_ROUTES)).items;
      const outcomes: Record<AlertOutcome, number> = {
        created: 0,
        duplicate: 0,
        cancelled: 0,
        ignored: 0,
        refused: notification.refused.length,
      };
      const refusals: AlertRefusal[] = [...notification.refused];
      for (const { index, alert } of notification.alerts) {
        const outcome = await this.act(alert, routes, traceparentOf(req));
        if (typeof outcome === 'string') {
          outcomes[outcome]++;
          this.o.metrics?.alertsTotal.inc({ outcome });
        } else {
          outcomes.refused++;
          refusals.push({ ...outcome, index });
          this.refused({ ...outcome, index });
        }
      }
      this.count('accepted');
      reply(res, 200, { ...outcomes, refusals: refusals.slice(0, 50) });
    } finally {
      this.inFlight--;
    }
  }

  private refused(refusal: AlertRefusal): void {
    this.o.metrics?.alertsTotal.inc({ outcome: 'refused' });
    this.o.metrics?.alertRefusalsTotal.inc({ reason: refusal.reason });
    this.o.log.info('alert refused', { ...refusal });
  }

  /** What one alert does: create its run, cancel it, or nothing; apiserver failures propagate. */
  private async act(
    alert: Alert,
    routes: readonly AlertRoute[],
    traceparent: string | undefined,
  ): Promise<AlertOutcome | AlertRefusal> {
    const route = routeFor(alert, routes);
    if (!route)
      return {
        reason: 'NoRoute',
        message: `no AlertRoute matches alert ${alert.labels['alertname'] ?? alert.fingerprint}`,
      };
    if (alert.status === 'resolved') return this.cancelIfNotStarted(alert, route.metadata.namespace ?? '');
    const run = runFor(alert, route, traceparent);
    if (!('apiVersion' in run)) return run;
    try {
      await this.o.client.request(resourcePath(WORKFLOW_EXECUTIONS, run.metadata.namespace), { body: run });
      this.o.log.info('run created for alert', {
        workflow: run.metadata.name,
        namespace: run.metadata.namespace,
        route: route.metadata.name,
        alertname: alert.labels['alertname'],
      });
      return 'created';
    } catch (error) {
      if (isAlreadyExists(error)) return 'duplicate';
      // Refused by admission or the schema: sending it again would not help.
      if (error instanceof ApiError && (error.status === 422 || error.status === 400 || error.status === 403))
        return { reason: 'MalformedAlert', message: `the run was refused: ${error.message}` };
      throw error;
    }
  }

  /** A resolved alert cancels its run when that has not started executing; otherwise nothing. */
  private async cancelIfNotStarted(alert: Alert, namespace: string): Promise<AlertOutcome> {
    const path = resourcePath(WORKFLOW_EXECUTIONS, namespace, runNameOf(alert));
    let run: WorkflowExecution;
    try {
      run = await this.o.client.request<WorkflowExecution>(path);
    } catch (error) {
      if (isNotFound(error)) return 'ignored';
      throw error;
    }
    if (!notStarted(run) || run.metadata.annotations?.[CANCEL_REQUESTED_BY] !== undefined) return 'ignored';
    this.self ??= await this.whoAmI();
    await this.o.client.request(path, {
      method: 'PATCH',
      patchType: 'merge',
      body: {
        metadata: {
          resourceVersion: run.metadata.resourceVersion,
          annotations: { [CANCEL_REQUESTED_BY]: this.self },
        },
      },
    });
    this.o.log.info('run cancelled: its alert resolved before it started', {
      workflow: run.metadata.name,
      namespace,
    });
    return 'cancelled';
  }

  private async whoAmI(): Promise<string> {
    const review = await this.o.client.request<{ status?: { userInfo?: { username?: string } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    return review.status?.userInfo?.username ?? 'workflowexecution-operator';
  }
}

/** The notification's W3C trace context, when it came with one (one header, as the spec allows). */
function traceparentOf(req: IncomingMessage): string | undefined {
  const value = req.headers.traceparent;
  return typeof value === 'string' ? value.trim().toLowerCase() : undefined;
}
