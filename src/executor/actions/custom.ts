/**
 * Custom actions. The demo executor knows three that samples and tests use to script a run:
 *   fail   fails with config.message
 *   sleep  completes after config.duration (e.g. "3s")
 *   hang   never finishes (until the executor stops)
 * Any other actionType completes at once and echoes its config as output.
 */
import { parseDuration } from '../../core/duration.ts';
import { ActionError, sleep, type ActionContext, type ActionOutcome } from '../context.ts';

export async function custom(ctx: ActionContext): Promise<ActionOutcome> {
  const p = ctx.child.spec.parameters?.custom ?? ctx.child.spec.rollbackParameters?.custom;
  if (!p) throw new ActionError('the child has no custom parameters');
  const config = p.config ?? {};
  switch (p.actionType) {
    case 'fail':
      throw new ActionError(config['message'] ?? `custom action ${p.actionType} failed as asked`);
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
    default:
      break;
  }
  return {
    message: `${ctx.dryRun ? 'would run' : 'ran'} custom action ${p.actionType}`,
    result: { success: true, customResult: { actionType: p.actionType, output: { ...config } } },
  };
}
