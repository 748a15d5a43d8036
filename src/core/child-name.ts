/**
 * Names of KubernetesExecution children: a pure function of (workflow, kind, step, attempt), so a
 * step attempt is never launched twice. Always a valid DNS label (RFC 1123, at most 63 characters).
 */
import { fnv1a64 } from './spec-hash.ts';
import type { ChildKind } from './observe.ts';

export const MAX_NAME_LENGTH = 63;

export function childSuffix(kind: ChildKind, stepNumber: number, attempt: number): string {
  switch (kind) {
    case 'step':
      return `-step-${stepNumber}-a${attempt}`;
    case 'dryRun':
      return `-dryrun-${stepNumber}`;
    case 'rollback':
      return `-rollback-${stepNumber}`;
  }
}

const sanitize = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');

export function childName(workflowName: string, kind: ChildKind, stepNumber: number, attempt = 1): string {
  const suffix = childSuffix(kind, stepNumber, attempt);
  const base = sanitize(workflowName) || 'wf';
  const plain = `${base}${suffix}`;
  if (plain.length <= MAX_NAME_LENGTH && base === workflowName) return plain;
  // Too long (or the workflow name needed changes): keep a readable prefix, add a hash of the full name.
  const hash = fnv1a64(`${workflowName}${suffix}`).slice(0, 10);
  const room = MAX_NAME_LENGTH - suffix.length - hash.length - 1;
  const prefix = base.slice(0, Math.max(0, room)).replace(/-+$/g, '');
  return `${prefix === '' ? 'wf' : prefix}-${hash}${suffix}`.slice(0, MAX_NAME_LENGTH);
}
