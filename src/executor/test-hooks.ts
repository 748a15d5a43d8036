/**
 * The test hooks: custom actions that samples, tests and `npm run dev` use to script a run. They
 * exist only when the executor runs with `--development`; without it their names are refused like
 * any custom action type nobody registered, so a production executor never fakes an outcome.
 *   fail   fails with config.message
 *   sleep  completes after config.duration (e.g. "3s")
 *   hang   never finishes (until the attempt is stopped, times out or the executor stops)
 */
import { parseDuration } from '../core/duration.ts';
import { ActionError, sleep, type ActionContext, type ActionHandler, type ActionOutcome } from './context.ts';

export const TEST_HOOK_NAMES = ['fail', 'sleep', 'hang'] as const;
type TestHookName = (typeof TEST_HOOK_NAMES)[number];

const isTestHook = (actionType: string): actionType is TestHookName =>
  (TEST_HOOK_NAMES as readonly string[]).includes(actionType);

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const stop = (): void => {
      reject(new ActionError('executor stopping'));
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}

async function runHook(ctx: ActionContext, actionType: TestHookName, config: Record<string, string>) {
  switch (actionType) {
    case 'fail':
      throw new ActionError(config['message'] ?? `custom action ${actionType} failed as asked`);
    case 'hang':
      if (!ctx.dryRun) await waitForAbort(ctx.signal);
      break;
    case 'sleep': {
      const ms = parseDuration(config['duration'] ?? '1s');
      if (ms === undefined)
        throw new ActionError(`duration ${JSON.stringify(config['duration'])} is not a duration`);
      if (!ctx.dryRun) await sleep(ms, ctx.signal);
      break;
    }
  }
}

/**
 * The handler for a custom action that names a test hook: the hook with `--development`, else a
 * failure naming the type. Undefined for every other custom type (the registry's business).
 */
export function testHookFor(ctx: ActionContext, development: boolean): ActionHandler | undefined {
  const p = ctx.child.spec.parameters?.custom ?? ctx.child.spec.rollbackParameters?.custom;
  if (ctx.child.spec.action !== 'custom' || !p || !isTestHook(p.actionType)) return undefined;
  const { actionType } = p;
  if (!development)
    return () =>
      Promise.reject(
        new ActionError(
          `custom action type ${JSON.stringify(actionType)} is not registered (the test hooks ${TEST_HOOK_NAMES.join(', ')} exist only when the executor runs with --development)`,
        ),
      );
  return async (): Promise<ActionOutcome> => {
    const config = p.config ?? {};
    await runHook(ctx, actionType, config);
    return {
      message: `${ctx.dryRun ? 'would run' : 'ran'} test hook ${actionType}`,
      result: { success: true, customResult: { actionType, output: { ...config } } },
    };
  };
}
