/**
 * What the inspector knows: the latest version of each workflow, its statechart read back, its
 * summary, and the inspection events derived so far (kept for replay to pages that connect later).
 * Fed by the informers' changes; tells a listener what changed.
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { createInspectionBridge, type StatelyInspectionEvent } from './bridge.ts';
import { inspectWorkflow, type Inspected } from './read-statechart.ts';
import { keyOf, summarize, type WorkflowSummary } from './summary.ts';

export interface Entry {
  wf: WorkflowExecution;
  inspected: Inspected;
  /** The persisted snapshot as JSON, to see whether it changed. */
  snapshotJson: string | null;
  registered: boolean;
  summary: WorkflowSummary;
}

export interface Logged {
  seq: number;
  key: string;
  event: StatelyInspectionEvent;
}

export type StoreChange =
  | { kind: 'event'; logged: Logged }
  | { kind: 'workflow'; summary: WorkflowSummary }
  | { kind: 'deleted'; key: string }
  /** What the workflow's timeline is drawn from changed (its children). */
  | { kind: 'timeline'; key: string };

/** Inspection events kept for replay to newly connected pages. */
const REPLAY_LIMIT = 5000;

export class WorkflowStore {
  private readonly entries = new Map<string, Entry>();
  private readonly log: Logged[] = [];
  private seq = 0;
  /** The workflow whose change the bridge is reporting on. */
  private current = '';
  private readonly bridge = createInspectionBridge((event) => {
    const logged = { seq: ++this.seq, key: this.current, event };
    this.log.push(logged);
    if (this.log.length > REPLAY_LIMIT) this.log.splice(0, this.log.length - REPLAY_LIMIT);
    this.changed({ kind: 'event', logged });
  });

  private readonly changed: (change: StoreChange) => void;

  constructor(changed: (change: StoreChange) => void) {
    this.changed = changed;
  }

  /** An informer's change of one workflow. */
  apply(wf: WorkflowExecution, kind: 'add' | 'update' | 'delete'): void {
    const key = keyOf(wf.metadata.namespace ?? '', wf.metadata.name ?? '');
    this.current = key;
    if (kind === 'delete') {
      this.entries.delete(key);
      for (let i = this.log.length - 1; i >= 0; i--) if (this.log[i]?.key === key) this.log.splice(i, 1);
      this.changed({ kind: 'deleted', key });
      return;
    }
    const previous = this.entries.get(key);
    const snapshotData = wf.status?.statechart?.snapshot;
    const snapshotJson = snapshotData ? JSON.stringify(snapshotData) : null;
    const recreated = previous !== undefined && previous.wf.metadata.uid !== wf.metadata.uid;
    const unchanged = previous !== undefined && !recreated && previous.snapshotJson === snapshotJson;
    const inspected = unchanged ? previous.inspected : inspectWorkflow(wf);
    const entry: Entry = {
      wf,
      inspected,
      snapshotJson,
      registered: recreated ? false : (previous?.registered ?? false),
      summary: summarize(wf, inspected),
    };
    this.entries.set(key, entry);
    if (inspected.ok && !unchanged) {
      if (!entry.registered) {
        this.bridge.register(key, inspected.machine, inspected.snapshot);
        entry.registered = true;
      }
      if (inspected.snapshot) {
        const before: WorkflowSnapshot | null =
          previous && !recreated && previous.inspected.ok ? (previous.inspected.snapshot ?? null) : null;
        this.bridge.observe(key, before, inspected.snapshot);
      }
    }
    this.changed({ kind: 'workflow', summary: entry.summary });
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** Every workflow's summary, by key; only `key`'s with one. */
  summaries(key: string | null = null): WorkflowSummary[] {
    return [...this.entries.values()]
      .map((e) => e.summary)
      .filter((s) => key === null || s.key === key)
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The inspection events kept, oldest first; only `key`'s with one. */
  events(key: string | null = null): Logged[] {
    return key === null ? [...this.log] : this.log.filter((l) => l.key === key);
  }

  stop(): void {
    this.bridge.stop();
  }
}
