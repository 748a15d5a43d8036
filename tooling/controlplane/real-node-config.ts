// The real node's configuration files: containerd's, the CNI bridge's and the kubelet's.
import { join } from 'node:path';

import type { Pki } from './pki.ts';

export const PAUSE_IMAGE = 'wfe.local/pause:3.10';
export const BRIDGE = 'wfe0';
export const POD_SUBNET = '10.213.0.0/24';
export const NODE_IP = '10.213.0.1';

export function containerdConfig(dir: string, cniBin: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  enable_selinux = false
  # This machine refuses to lower oom_score_adj (the kubelet asks -998 for sandboxes, -997 for
  # Guaranteed Pods): containerd raises such values to its own, as it does when rootless.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniBin}"
    conf_dir = "${dir}/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
`;
}

export function cniConfig(dataDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'wfe',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: POD_SUBNET, gateway: NODE_IP }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(dataDir, 'cni-ipam'),
          },
        },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(dataDir: string, containerdSock: string, pki: Pki, ports: number[]): string {
  const [port, healthzPort] = ports as [number, number];
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: '127.0.0.1',
      port,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: pki.ca.certFile },
      },
      authorization: { mode: 'Webhook' },
      // This machine's hierarchy is cgroup v1 (checked at start): cgroupfs, and v1 allowed.
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      containerRuntimeEndpoint: `unix://${containerdSock}`,
      failSwapOn: false,
      resolvConf: '',
      podLogsDir: join(dataDir, 'pod-logs'),
      // A shared development machine: evict only when truly out of room, never GC the test images.
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      maxPods: 20,
      syncFrequency: '5s',
      nodeStatusUpdateFrequency: '4s',
    },
    null,
    2,
  );
}
