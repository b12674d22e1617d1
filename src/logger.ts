import { pino, type DestinationStream, type Level, type Logger as PinoLogger } from "pino";
import pinoPretty from "pino-pretty";

/** Structured fields of a log line (never a secret, an API key or a payload). */
export type LogFields = Record<string, unknown>;

/** hookd's log sink: pino lines by default, collected or silent in tests. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, error?: unknown, fields?: LogFields): void;
  /** Lines for whoever looks into a problem (HOOKD_LOG_LEVEL=debug); optional, since most sinks drop them. */
  debug?(message: string, fields?: LogFields): void;
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (default: stdout). Tests pass a stream that collects them. */
  destination?: DestinationStream;
  /** Readable lines instead of JSON (default: when stdout is a terminal). */
  pretty?: boolean;
}

/** A Logger over a pino logger; child() adds fields to every line. */
export class PinoHookdLogger implements Logger {
  constructor(readonly pino: PinoLogger) {}

  info(message: string, fields?: LogFields): void {
    if (fields) this.pino.info(fields, message);
    else this.pino.info(message);
  }

  warn(message: string, fields?: LogFields): void {
    if (fields) this.pino.warn(fields, message);
    else this.pino.warn(message);
  }

  error(message: string, error?: unknown, fields?: LogFields): void {
    if (error === undefined && !fields) this.pino.error(message);
    else this.pino.error({ ...fields, ...(error === undefined ? {} : { err: error }) }, message);
  }

  debug(message: string, fields?: LogFields): void {
    if (fields) this.pino.debug(fields, message);
    else this.pino.debug(message);
  }

  child(fields: LogFields): PinoHookdLogger {
    return new PinoHookdLogger(this.pino.child(fields));
  }
}

/**
 * JSON lines on stdout (what journald and log shippers read), readable ones when stdout is a
 * terminal. JSON lines are written asynchronously (one write for the lines that came meanwhile,
 * not a system call per finished hook); pino writes what is pending when the process exits.
 */
export function createLogger(options: LoggerOptions = {}): PinoHookdLogger {
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  const destination =
    options.destination ?? (pretty ? pinoPretty({ sync: true, colorize: true, translateTime: "SYS:standard", ignore: "pid,hostname,name" }) : pino.destination({ dest: 1, sync: false }));
  const logger = pino(
    {
      name: "hookd",
      level: (options.level ?? "info") satisfies Level | "silent",
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: these never belong in a line, whoever logs an object holding them.
      // A failed query's error carries its parameters (a key's hash, an email) and the database's
      // detail ("Key (hash)=(…) already exists"): the SQL text may be logged, never those.
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "secret",
          "*.secret",
          "apiKey",
          "*.apiKey",
          "input",
          "*.input",
          "payload",
          "*.payload",
          "parameters",
          "*.parameters",
          "err.driverError.parameters",
          "err.detail",
          "err.driverError.detail",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
  return new PinoHookdLogger(logger);
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
