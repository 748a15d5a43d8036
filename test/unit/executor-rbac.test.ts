import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  ROLLBACK_ACTION_CATALOGUE,
  STEP_ACTION_CATALOGUE,
  type StepActionEntry,
} from '../../src/api/action-catalogue.ts';
import {
  CLUSTER_SCOPED_ROLE,
  EXECUTOR_RBAC_FILES,
  EXECUTOR_ROLE,
  NAMESPACED_ROLE,
  allCalls,
  allows,
  executorRbacOutputs,
  type PolicyRule,
} from '../../src/api/executor-rbac.ts';
import type { StepAction } from '../../src/api/actions.ts';

interface RoleDoc {
  kind: string;
  metadata: { name: string };
  rules?: PolicyRule[];
}

const committed = (file: string): RoleDoc[] =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as RoleDoc);
const rulesOf = (docs: RoleDoc[], kind: string, name: string): PolicyRule[] =>
  docs.find((d) => d.kind === kind && d.metadata.name === name)?.rules ?? [];

describe("the executor's Role, generated from the action catalogue", () => {
  it('grants every call of every step and rollback action, and of the service, in the committed manifest', () => {
    const docs = committed(EXECUTOR_RBAC_FILES.clusterWide);
    const cluster = rulesOf(docs, 'ClusterRole', EXECUTOR_ROLE);
    const own = rulesOf(docs, 'Role', EXECUTOR_ROLE);
    for (const call of allCalls()) {
      const rules = call.scope === 'executor' ? own : cluster;
      expect({
        call: `${call.group}/${call.resource}/${call.subresource ?? ''} ${call.verbs.join(',')}`,
        allowed: allows(rules, call),
      }).toEqual(expect.objectContaining({ allowed: true }));
    }
  });

  it('grants nothing the catalogue does not ask for', () => {
    const rules = rulesOf(committed(EXECUTOR_RBAC_FILES.clusterWide), 'ClusterRole', EXECUTOR_ROLE);
    const calls = allCalls();
    for (const rule of rules)
      for (const verb of rule.verbs)
        expect(
          calls.some(
            (c) =>
              c.group === rule.apiGroups[0] &&
              (c.subresource === undefined ? c.resource : `${c.resource}/${c.subresource}`) ===
                rule.resources[0] &&
              c.verbs.includes(verb),
          ),
        ).toBe(true);
    expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
  });

  it('fails the check when the catalogue changes and the manifests are not regenerated', () => {
    const drifted: Record<StepAction, StepActionEntry> = {
      ...STEP_ACTION_CATALOGUE,
      'scale-deployment': {
        ...STEP_ACTION_CATALOGUE['scale-deployment'],
        calls: [
          ...STEP_ACTION_CATALOGUE['scale-deployment'].calls,
          { group: 'apps', resource: 'statefulsets', verbs: ['patch'], scope: 'target', why: 'a new need' },
        ],
      },
    };
    const fresh = executorRbacOutputs(allCalls(drifted, ROLLBACK_ACTION_CATALOGUE));
    const differing = fresh
      .filter(([file, text]) => readFileSync(file, 'utf8') !== text)
      .map(([file]) => file);
    expect(differing).toEqual([EXECUTOR_RBAC_FILES.clusterWide, EXECUTOR_RBAC_FILES.namespaced]);
    // And the committed Role does not grant the new call.
    const rules = rulesOf(committed(EXECUTOR_RBAC_FILES.clusterWide), 'ClusterRole', EXECUTOR_ROLE);
    expect(allows(rules, { group: 'apps', resource: 'statefulsets', verbs: ['patch'] })).toBe(false);
  });

  it('matches a fresh generation today', () => {
    for (const [file, text] of executorRbacOutputs()) expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('splits the namespaced variant: a step namespace’s calls to bind per namespace, Nodes cluster-wide', () => {
    const docs = committed(EXECUTOR_RBAC_FILES.namespaced);
    const perNamespace = rulesOf(docs, 'ClusterRole', NAMESPACED_ROLE);
    const clusterWide = rulesOf(docs, 'ClusterRole', CLUSTER_SCOPED_ROLE);
    expect(allows(perNamespace, { group: 'apps', resource: 'deployments', verbs: ['get', 'patch'] })).toBe(
      true,
    );
    expect(allows(perNamespace, { group: '', resource: 'nodes', verbs: ['patch'] })).toBe(false);
    expect(allows(clusterWide, { group: '', resource: 'nodes', verbs: ['get', 'patch'] })).toBe(true);
    expect(allows(clusterWide, { group: 'apps', resource: 'deployments', verbs: ['patch'] })).toBe(false);
    expect(docs.filter((d) => d.kind === 'ClusterRoleBinding').map((d) => d.metadata.name)).toEqual([
      CLUSTER_SCOPED_ROLE,
    ]);
  });
});
