/** A problem found in a resource: what (reason), where (path) and why (message). */
export interface SpecIssue {
  /** Machine-readable CamelCase reason, e.g. `DependencyCycle`. */
  reason: string;
  /** JSON path in the resource, e.g. `spec.workflowDefinition.steps[3].dependsOn[0]`. */
  path: string;
  /** A sentence a person understands. */
  message: string;
}

/** `/spec/steps/3/dependsOn/0` (a JSON pointer) -> `spec.steps[3].dependsOn[0]`. */
export function pointerToPath(prefix: string, pointer: string): string {
  let path = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^\d+$/.test(token)) path += `[${token}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(token)) path += `.${token}`;
    else path += `[${JSON.stringify(token)}]`;
  }
  return path;
}

/** One line per issue, for condition messages and CLI output. */
export const describeIssues = (issues: readonly SpecIssue[]): string =>
  issues.map((issue) => `${issue.path}: ${issue.message} (${issue.reason})`).join('; ');
