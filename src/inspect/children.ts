/**
 * The KubernetesExecution children the inspector knows, by their workflow's key, for the timeline:
 * fed by an informer on the children's workflow-uid label; tells a listener whose children changed.
 */
import type { KubernetesExecution } from '../api/generated/types.ts';
import { keyOf } from './summary.ts';

export class ChildrenIndex {
  private readonly byWorkflow = new Map<string, Map<string, KubernetesExecution>>();
  private readonly changed: (key: string) => void;

  constructor(changed: (key: string) => void) {
    this.changed = changed;
  }

  apply(child: KubernetesExecution, kind: 'add' | 'update' | 'delete'): void {
    const ref = child.spec.workflowExecutionRef;
    const key = keyOf(ref.namespace ?? child.metadata.namespace ?? '', ref.name);
    const name = child.metadata.name ?? '';
    let children = this.byWorkflow.get(key);
    if (kind === 'delete') {
      children?.delete(name);
      if (children?.size === 0) this.byWorkflow.delete(key);
    } else {
      if (!children) {
        children = new Map<string, KubernetesExecution>();
        this.byWorkflow.set(key, children);
      }
      children.set(name, child);
    }
    this.changed(key);
  }

  of(key: string): KubernetesExecution[] {
    return [...(this.byWorkflow.get(key)?.values() ?? [])];
  }
}
