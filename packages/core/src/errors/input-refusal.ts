import { AgentKeyInputError } from './errors.js';

/**
 * The one place where the input checks, which throw (bad admin input and configuration are
 * errors), are asked for an answer instead: the refusal they would throw, or null.
 */
export function inputRefusal(check: () => unknown): AgentKeyInputError | null {
  try {
    check();
    return null;
  } catch (error) {
    if (error instanceof AgentKeyInputError) return error;
    throw error;
  }
}
