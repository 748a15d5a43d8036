/**
 * The custom actions samples and tests use to script a run (development only; the executor service
 * decides whether they are offered):
 *   fail   fails with config.message
 *   sleep  completes after config.duration (e.g. "3s")
 *   hang   never finishes (until the executor stops)
 */
import { parseDuration } from '../../core/duration.ts';
import { ActionError, sleep, type ActionContext, type ActionOutcome } from '../context.ts';

export const TEST_HOOK_TYPES = ['fail', 'sleep', 'hang'] as const;
export type TestHookType = (typeof TEST_HOOK_TYPES)[number];
export const isTestHook = (actionType: string): actionType is TestHookType =>
  (TEST_HOOK_TYPES as readonly string[]).includes(actionType);

export async function runTestHook(
  ctx: ActionContext,
  actionType: TestHookType,
  config: Record<string, string>,
): Promise<ActionOutcome> {
  switch (actionType) {
    case 'fail':
      throw new ActionError(config['message'] ?? `custom action ${actionType} failed as asked`);
    case 'hang':
      if (!ctx.dryRun)
        await new Promise<never>((_, reject) => {
          ctx.signal.addEventListener(
            'abort',
            () => {
              reject(new ActionError('executor stopping'));
            },
            { once: true },
          );
        });
      break;
    case 'sleep': {
      const ms = parseDuration(config['duration'] ?? '1s');
      if (ms === undefined)
        throw new ActionError(`duration ${JSON.stringify(config['duration'])} is not a duration`);
      if (!ctx.dryRun) await sleep(ms, ctx.signal);
      break;
    }
  }
  return {
    message: `${ctx.dryRun ? 'would run' : 'ran'} custom action ${actionType}`,
    result: { success: true, customResult: { actionType, output: { ...config } } },
  };
}
