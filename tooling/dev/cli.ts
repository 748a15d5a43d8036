#!/usr/bin/env node
/**
 * `npm run dev` (and `npm run monitoring`, with --monitoring): start the development environment,
 * print how to follow it, stop it on Ctrl-C. Development tooling: it ships in no image.
 */
import { parseArgs } from 'node:util';
import { instructions, startDev } from './environment.ts';
import { CliError } from '../../src/cli/errors.ts';

export async function runDev(options: { monitoring?: boolean } = {}): Promise<void> {
  let env;
  try {
    env = await startDev({ monitoring: options.monitoring === true });
  } catch (error) {
    throw new CliError(`dev environment did not start: ${(error as Error).message}`);
  }
  process.stdout.write(instructions(env));
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`dev: ${signal} again; exiting now (the control plane's watchdogs clean up)\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`dev: ${signal}: stopping the executor, the operator and the control plane\n`);
      void env.stop().then(() => {
        process.stderr.write('dev: stopped\n');
        resolve();
      }, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({ options: { monitoring: { type: 'boolean' } }, strict: true });
  runDev({ monitoring: values.monitoring === true }).catch((error: unknown) => {
    process.stderr.write(`${error instanceof CliError ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
