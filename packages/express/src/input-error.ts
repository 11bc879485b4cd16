import { AgentKeyInputError } from '@agentkey/core';

/**
 * True for core's input errors. Checked by name too: an app may end up with two copies of
 * @agentkey/core, and a bad value must still answer 400, not 500.
 */
export function isInputError(error: unknown): error is AgentKeyInputError {
  return (
    error instanceof AgentKeyInputError ||
    (error instanceof Error && error.name === 'AgentKeyInputError' && 'field' in error)
  );
}

/** Echoes caller input in an error message: no control characters, bounded length. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value;
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
