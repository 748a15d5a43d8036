/** `wfx diagram NAME`: the workflow's own statechart, its active states marked, as SVG, Mermaid or DOT. */
import { writeFile } from 'node:fs/promises';
import type { WorkflowExecution } from '../../api/generated/types.ts';
import { activeStateIds, toDot, toMermaid } from '../../core/diagram.ts';
import { MACHINE_ID } from '../../../machines/workflow.ts';
import { CliError } from '../errors.ts';
import { inspectWorkflow } from '../../inspect/read-statechart.ts';

export async function diagram(
  wf: WorkflowExecution,
  format: string,
  output: string | undefined,
): Promise<string | undefined> {
  const inspected = inspectWorkflow(wf);
  if (!inspected.ok)
    throw new CliError(`cannot draw workflowexecution/${wf.metadata.name ?? ''}: ${inspected.problem}`);
  const options = {
    title: `${wf.metadata.namespace ?? ''}/${wf.metadata.name ?? ''} (${wf.status?.phase ?? 'pending'})`,
    active: inspected.snapshot ? activeStateIds(inspected.snapshot.value, MACHINE_ID) : [],
  };
  let text: string;
  if (format === 'mermaid') text = toMermaid(inspected.machine, options);
  else if (format === 'dot') text = toDot(inspected.machine, options);
  else if (format === 'svg') {
    const { Graphviz } = await import('@hpcc-js/wasm-graphviz');
    text = (await Graphviz.load()).dot(toDot(inspected.machine, options));
  } else throw new CliError(`unknown format ${JSON.stringify(format)}: use svg, mermaid or dot`, 2);
  if (!output) return text;
  await writeFile(output, text);
  return `wrote ${output}`;
}
