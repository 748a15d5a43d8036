/** Structured JSON logs (winston): one line per decision, with workflow, namespace, reconcile id, phase. */
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(level = process.env['LOG_LEVEL'] ?? 'info', silent = false): Logger {
  return winston.createLogger({
    level,
    silent,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: false }),
      winston.format.json(),
    ),
    transports: [
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston's Console is a TransportStream; its typings come from two packages
      new winston.transports.Console({
        stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly'],
      }),
    ],
  });
}

/** A logger that writes nothing, for tests and benchmarks that do not read logs. */
export const silentLogger = (): Logger => createLogger('error', true);

/** A JSON logger writing to a stream of the caller's (tests read what the operator logged). */
export function createStreamLogger(level: string, stream: NodeJS.WritableStream): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see createLogger
    transports: [new winston.transports.Stream({ stream })],
  });
}
