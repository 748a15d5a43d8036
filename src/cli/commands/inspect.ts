/** `wfx inspect [--port P]`: the live statechart inspector as a process, until SIGTERM or SIGINT. */
import { loadClientConfig, type ClientConfig } from '../../shell/kube/kubeconfig.ts';
import { CliError } from '../errors.ts';
import { startInspector } from '../../inspect/server.ts';

export interface InspectFlags {
  kubeconfig?: string | undefined;
  namespaces: string[];
  port: number;
  host: string;
  statelyPort?: number | undefined;
}

export async function runInspect(flags: InspectFlags): Promise<void> {
  let kc: ClientConfig;
  try {
    kc = loadClientConfig(flags.kubeconfig);
  } catch (error) {
    throw new CliError(`cannot load the kubeconfig: ${(error as Error).message}`);
  }
  let inspector;
  try {
    inspector = await startInspector({
      kubeconfig: kc,
      namespaces: flags.namespaces,
      port: flags.port,
      host: flags.host,
      statelyPort: flags.statelyPort,
      onError: (message) => process.stderr.write(`wfx inspect: ${message}\n`),
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new CliError(`port ${flags.port} is in use: pass --port`);
    throw new CliError(
      `cannot watch workflows at ${kc.getCurrentCluster().server}: ${e.message} (set KUBECONFIG or pass --kubeconfig)`,
    );
  }
  const scope = flags.namespaces.length > 0 ? `namespaces ${flags.namespaces.join(', ')}` : 'all namespaces';
  process.stdout.write(`inspector: ${inspector.url} (workflows in ${scope}; Ctrl-C stops)\n`);
  if (inspector.statelyUrl)
    process.stdout.write(`Stately inspector: ${inspector.statelyUrl} (@statelyai/inspect WebSocket relay)\n`);
  const running = inspector;
  await new Promise<void>((resolve) => {
    const stop = () => {
      void running.stop().finally(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
