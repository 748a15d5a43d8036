// The short deploy check `npm test` runs: the operator image of this commit, imported into the real
// node's containerd, started by `kubectl apply -k` of an overlay as one Pod under the restricted Pod
// Security level, Ready through its probes, holding the Lease with its in-cluster identity.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { BuiltImage } from '../../tooling/image/build.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { adminClient } from '../integration/support/harness.ts';
import {
  applyOverlay,
  imageOfHeadOnNode,
  leaseHolder,
  readyOperatorPods,
  removeOperator,
} from './support.ts';
import { until } from '../support/cluster.ts';

jest.setTimeout(10 * 60_000);

let client: KubeClient;
let image: BuiltImage;

beforeAll(async () => {
  ({ client } = await adminClient());
  image = await imageOfHeadOnNode();
});

afterAll(async () => {
  await removeOperator(client);
  client.close();
});

describe('the operator image on a real node', () => {
  it('stays under 80 MB compressed', () => {
    expect(image.compressedBytes).toBeLessThan(80e6);
  });

  it('starts as a Pod that is Ready through its probes and takes the Lease', async () => {
    await applyOverlay((await adminClient()).kc, image.name, 1);
    const [pod] = await readyOperatorPods(client, 1);
    if (pod === undefined) throw new Error('no Ready operator Pod');
    expect(pod.spec.containers[0]?.image).toBe(image.name);
    // The image ID, or the repository digest once the node also holds it under a registry's name.
    expect(pod.status.containerStatuses?.[0]?.imageID).toMatch(new RegExp(`${image.id}|${image.digest}`));
    expect(pod.status.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(await until('the Lease held', () => leaseHolder(client))).toBe(pod.metadata.name);
  });
});
