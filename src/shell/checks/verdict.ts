/** A check's answer before the policy (required or warning) is applied to it. */
import type { SafetyResultValue } from '../../../machines/events.ts';

export interface CheckVerdict {
  result: SafetyResultValue;
  message: string;
}

/** Problems found -> failed naming each; none -> passed with what was looked at. */
export const verdictOf = (problems: readonly string[], passed: string): CheckVerdict =>
  problems.length === 0
    ? { result: 'passed', message: passed }
    : { result: 'failed', message: problems.join('; ') };
