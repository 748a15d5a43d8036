// Prints the run's totals as one closing line, `N passed, N failed`, from jest's aggregated results
// (the same numbers `jest --json` writes), and keeps them in .cache/jest-summary.json so .ci/run can
// print the line again as the very last thing, after the control plane's teardown messages.
const { mkdirSync, writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    process.stdout.write(`\n${line}\n`);
    mkdirSync('.cache', { recursive: true });
    writeFileSync(
      '.cache/jest-summary.json',
      JSON.stringify({ passed: results.numPassedTests, failed, skipped, line }),
    );
  }
}
module.exports = SummaryReporter;
