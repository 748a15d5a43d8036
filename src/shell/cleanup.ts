/**
 * What was started, stopped in reverse order on every path: register each resource as soon as it
 * exists, run them all when done (a test suite's `afterAll`, `npm run dev`'s Ctrl-C, a start-up that
 * failed half way). Every step runs even when an earlier one throws, so a failed start leaves no
 * browser, server, watch or child process behind (in jest: nothing that keeps it from exiting); the
 * errors are thrown together afterwards.
 */
export class Cleanup {
  private readonly steps: { what: string; run: () => unknown }[] = [];

  /** Registers `run` under a name used in error messages. */
  add(what: string, run: () => unknown): void {
    this.steps.push({ what, run });
  }

  /** Registers `stop` for `resource` and returns it: `const x = cleanup.track('x', await start(), (x) => x.stop())`. */
  track<T>(what: string, resource: T, stop: (resource: T) => unknown): T {
    this.add(what, () => stop(resource));
    return resource;
  }

  /** Runs every registered step, last registered first, and forgets them. */
  async run(): Promise<void> {
    const errors: Error[] = [];
    for (const { what, run } of this.steps.splice(0).reverse()) {
      try {
        await run();
      } catch (error) {
        errors.push(new Error(`stopping ${what}: ${error instanceof Error ? error.message : String(error)}`));
      }
    }
    const [only] = errors;
    if (errors.length === 1 && only) throw only;
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }
}
