/** hookd's log sink: lines to stderr by default, collected in tests. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export const consoleLogger: Logger = {
  info: (message) => console.error(`[hookd] ${message}`),
  warn: (message) => console.error(`[hookd] warning: ${message}`),
  error: (message, error) => console.error(`[hookd] error: ${message}`, error ?? ""),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
