/** Where unexpected failures (the store not answering, bugs) are reported. Never sees a key. */
export type ErrorReporter = (error: unknown, context: string) => void;

export const consoleReporter: ErrorReporter = (error, context) => {
  console.error(`agentkey: ${context} failed:`, error);
};

/** Reports without ever throwing: a broken reporter must not turn into an unhandled rejection. */
export function report(onError: ErrorReporter, error: unknown, context: string): void {
  try {
    onError(error, context);
  } catch {
    // Nothing better to do: the request has already been answered or is being answered.
  }
}
