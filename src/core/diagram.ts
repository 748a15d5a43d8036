/**
 * Diagrams of a workflow machine, walked from its definition (`machine.root`): Mermaid
 * `stateDiagram-v2` and Graphviz DOT, optionally with the active states highlighted. Pure and
 * deterministic: the same machine gives the same text.
 */
import type { AnyStateNode } from 'xstate';
import type { WorkflowMachine } from '../../machines/workflow.ts';

export interface DiagramOptions {
  /** State node ids to highlight, e.g. from a snapshot's active states. */
  active?: readonly string[];
  title?: string;
}

interface Edge {
  source: AnyStateNode;
  target: AnyStateNode | null;
  label: string;
}

function guardName(guard: unknown): string | null {
  if (typeof guard === 'string') return guard;
  if (guard && typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string')
    return guard.type;
  return null;
}

function edgesOf(node: AnyStateNode): Edge[] {
  interface Def {
    guard?: unknown;
    eventType: string;
    target: readonly AnyStateNode[] | undefined;
  }
  const defs: Def[] = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
  const seen = new Set<string>();
  const edges: Edge[] = [];
  for (const t of defs) {
    const guard = guardName(t.guard);
    const event = t.eventType === '' ? 'always' : t.eventType;
    const label = guard ? `${event} [${guard}]` : event;
    const targets: (AnyStateNode | null)[] = t.target && t.target.length > 0 ? [...t.target] : [null];
    for (const target of targets) {
      const key = `${target?.id ?? ''}|${label}`;
      if (seen.has(key)) continue;
      seen.add(key);
      edges.push({ source: node, target, label });
    }
  }
  return edges;
}

const children = (node: AnyStateNode): AnyStateNode[] => Object.values(node.states);
const safeId = (id: string): string => id.replace(/[^A-Za-z0-9_]/g, '_');

/** Ids of the active state nodes of a state value (for highlighting). */
export function activeStateIds(value: unknown, prefix: string): string[] {
  if (typeof value === 'string') return [prefix, `${prefix}.${value}`];
  if (value && typeof value === 'object')
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => activeStateIds(v, `${prefix}.${k}`))];
  return [prefix];
}

export function toMermaid(machine: WorkflowMachine, options: DiagramOptions = {}): string {
  const active = new Set(options.active ?? []);
  const lines: string[] = [];
  if (options.title) lines.push('---', `title: ${options.title}`, '---');
  lines.push('stateDiagram-v2');
  const edges: string[] = [];
  const declare = (node: AnyStateNode, indent: string) => {
    const id = safeId(node.id);
    const kids = children(node);
    if (kids.length === 0) {
      lines.push(`${indent}state "${node.key}" as ${id}`);
    } else {
      lines.push(`${indent}state "${node.key}" as ${id} {`);
      const initial = node.initial.target[0];
      if (node.type !== 'parallel' && initial) lines.push(`${indent}  [*] --> ${safeId(initial.id)}`);
      kids.forEach((kid, i) => {
        if (node.type === 'parallel' && i > 0) lines.push(`${indent}  --`);
        declare(kid, `${indent}  `);
      });
      lines.push(`${indent}}`);
    }
    if (node.type === 'final') edges.push(`  ${id} --> [*]`);
    for (const edge of edgesOf(node)) {
      const target = edge.target ? safeId(edge.target.id) : id;
      edges.push(`  ${id} --> ${target} : ${edge.label}`);
    }
  };
  const root = machine.root;
  const initial = root.initial.target[0];
  if (initial) lines.push(`  [*] --> ${safeId(initial.id)}`);
  for (const kid of children(root)) declare(kid, '  ');
  lines.push(...edges);
  for (const id of [...active].sort()) lines.push(`  class ${safeId(id)} active`);
  if (active.size > 0) lines.push('  classDef active fill:#ffd54f,stroke:#e65100,stroke-width:2px');
  return `${lines.join('\n')}\n`;
}

const quote = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function toDot(machine: WorkflowMachine, options: DiagramOptions = {}): string {
  const active = new Set(options.active ?? []);
  const lines: string[] = [
    'digraph workflow {',
    '  compound=true;',
    '  rankdir=LR;',
    '  fontname="Helvetica"; fontsize=12;',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  if (options.title) lines.push(`  label=${quote(options.title)}; labelloc=t;`);
  const edges: string[] = [];
  /** A compound state is a cluster; edges to and from it attach to its anchor point. */
  const anchor = (node: AnyStateNode): string =>
    children(node).length > 0 ? `${safeId(node.id)}__anchor` : safeId(node.id);
  const endpoint = (node: AnyStateNode, end: 'lhead' | 'ltail'): string =>
    children(node).length > 0 ? `${end}=cluster_${safeId(node.id)}` : '';
  const declare = (node: AnyStateNode, indent: string) => {
    const id = safeId(node.id);
    const kids = children(node);
    const fill = active.has(node.id) ? '#ffd54f' : node.type === 'final' ? '#c8e6c9' : '#ffffff';
    if (kids.length === 0) {
      const shape = node.type === 'final' ? ', peripheries=2' : '';
      lines.push(`${indent}${id} [label=${quote(node.key)}, fillcolor=${quote(fill)}${shape}];`);
    } else {
      lines.push(`${indent}subgraph cluster_${id} {`);
      lines.push(
        `${indent}  label=${quote(node.type === 'parallel' ? `${node.key} (parallel)` : node.key)}; style="rounded${
          active.has(node.id) ? ',filled' : ''
        }"; fillcolor="#fff8e1"; ${node.type === 'parallel' ? 'color="#1565c0"' : 'color="#616161"'};`,
      );
      lines.push(`${indent}  ${anchor(node)} [shape=point, width=0.08, label=""];`);
      const initial = node.initial.target[0];
      if (node.type !== 'parallel' && initial)
        edges.push(
          `  ${anchor(node)} -> ${anchor(initial)} [style=dashed, arrowhead=vee${endpoint(initial, 'lhead') ? `, ${endpoint(initial, 'lhead')}` : ''}];`,
        );
      for (const kid of kids) declare(kid, `${indent}  `);
      lines.push(`${indent}}`);
    }
    for (const edge of edgesOf(node)) {
      const target = edge.target ?? node;
      const attrs = [`label=${quote(edge.label)}`, endpoint(node, 'ltail'), endpoint(target, 'lhead')].filter(
        (a) => a !== '' && !(edge.target === node && a.startsWith('l')),
      );
      edges.push(`  ${anchor(node)} -> ${anchor(target)} [${attrs.join(', ')}];`);
    }
  };
  lines.push('  __start [shape=circle, width=0.2, style=filled, fillcolor="#000000", label=""];');
  const initial = machine.root.initial.target[0];
  if (initial) edges.push(`  __start -> ${anchor(initial)};`);
  for (const kid of children(machine.root)) declare(kid, '  ');
  lines.push(...edges, '}');
  return `${lines.join('\n')}\n`;
}
