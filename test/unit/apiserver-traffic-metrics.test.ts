// The apiserver traffic metrics are the client's and the caches' own totals, copied in at scrape
// time: what a scrape shows is what was sent, however often it is scraped.
import { describe, expect, it } from '@jest/globals';
import { createOperatorMetrics, type OperatorMetrics } from '../../src/shell/metrics.ts';

const series = async (metrics: OperatorMetrics, name: string) =>
  (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith(name));

describe('apiserver traffic metrics', () => {
  it('show each verb and answer the client counted, unanswered requests as code "error", and watch restarts', async () => {
    const metrics = createOperatorMetrics();
    const requests = [
      { method: 'PUT', code: '200', count: 7 },
      { method: 'POST', code: 'error', count: 1 },
    ];
    let restarts = 2;
    metrics.observeApiserver({ requests: () => requests, watchRestarts: () => restarts });
    expect(await series(metrics, 'kubernaut_workflowexecution_apiserver_requests_total')).toEqual([
      'kubernaut_workflowexecution_apiserver_requests_total{method="PUT",code="200"} 7',
      'kubernaut_workflowexecution_apiserver_requests_total{method="POST",code="error"} 1',
    ]);
    requests[0] = { method: 'PUT', code: '200', count: 9 };
    restarts = 3;
    // Scraped again: the totals as they are now, not added to what the last scrape showed.
    expect(
      await series(metrics, 'kubernaut_workflowexecution_apiserver_requests_total{method="PUT"'),
    ).toEqual(['kubernaut_workflowexecution_apiserver_requests_total{method="PUT",code="200"} 9']);
    expect(await series(metrics, 'kubernaut_workflowexecution_watch_restarts_total ')).toEqual([
      'kubernaut_workflowexecution_watch_restarts_total 3',
    ]);
  });

  it('show nothing sent before a client is observed', async () => {
    expect(
      await series(createOperatorMetrics(), 'kubernaut_workflowexecution_watch_restarts_total '),
    ).toEqual(['kubernaut_workflowexecution_watch_restarts_total 0']);
  });
});
