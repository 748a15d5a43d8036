// Answers cut off mid-body (the apiserver going away while it answers): a request and a watch's
// refusal both end in an error, so the caller retries or watches again. Without an 'error' listener
// on the response Node drops the error, and a watch refused this way would never end.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createKubeClient, type KubeClient } from '../../src/shell/kube/client.ts';
import type { KubeCredentials } from '../../src/shell/kube/kubeconfig.ts';

let server: Server | undefined;
let client: KubeClient | undefined;
afterEach(() => {
  client?.close();
  server?.close();
});

/** An endpoint that answers `status` with half its announced body, then closes the connection. */
async function cutOff(status: number): Promise<KubeClient> {
  server = createServer((req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"kind":"Status","code":');
    setTimeout(() => req.socket.destroy(), 20);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc: KubeCredentials = {
    getCurrentCluster: () => ({ server: `http://127.0.0.1:${String(port)}` }),
    getCurrentUser: () => ({ name: 'test' }),
    applyToHTTPSOptions: () => Promise.resolve(),
  };
  client = await createKubeClient(kc);
  return client;
}

describe('an answer cut off mid-body', () => {
  it('fails a request', async () => {
    const c = await cutOff(200);
    await expect(c.request('/api/v1/namespaces')).rejects.toThrow('aborted');
  });

  it('ends a watch whose refusal is cut off: its done rejects, and the informer watches again', async () => {
    const c = await cutOff(500);
    const watch = c.watch('/api/v1/namespaces', {}, () => undefined, 30_000);
    await expect(watch.done).rejects.toThrow('aborted');
  });
});
