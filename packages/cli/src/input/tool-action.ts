import { InvalidArgumentError } from 'commander';

/** A tool's named slip actions, as `tools add --action` gathers them. */
export type ToolActions = Record<string, { methods: string[]; pathPrefixes: string[] }>;

const FORM = 'Give name=METHODS:/prefix[,/prefix…], e.g. repos.read=GET,HEAD:/repos/';
const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const METHOD = /^[A-Za-z]{1,16}$/;
const echo = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

/**
 * One `--action name=METHODS:/prefix,…` (repeatable: each adds to `previous`). Parsed strictly:
 * the methods and prefixes must each be a non-empty comma list, a name is given once. The store
 * then checks that each action only narrows the tool's own methods and paths.
 */
export function toolAction(value: string, previous: ToolActions | undefined): ToolActions {
  const actions = previous ?? {};
  const eq = value.indexOf('=');
  const colon = value.indexOf(':', eq + 1);
  if (eq < 0 || colon < 0) throw new InvalidArgumentError(`${echo(value)} is not an action. ${FORM}`);
  const name = value.slice(0, eq).trim();
  if (!NAME.test(name)) {
    throw new InvalidArgumentError(
      `action name ${echo(name)} must be 1-64 lower-case letters, digits, ., _ or -, starting with a letter. ${FORM}`,
    );
  }
  if (Object.hasOwn(actions, name)) throw new InvalidArgumentError(`action ${name} is given twice`);
  const methods = value
    .slice(eq + 1, colon)
    .split(',')
    .map((m) => m.trim());
  if (!methods.every((m) => METHOD.test(m))) {
    throw new InvalidArgumentError(`action ${name}: methods must be a comma list such as GET,HEAD. ${FORM}`);
  }
  const pathPrefixes = value
    .slice(colon + 1)
    .split(',')
    .map((p) => p.trim());
  if (!pathPrefixes.every((p) => p.startsWith('/'))) {
    throw new InvalidArgumentError(`action ${name}: each path prefix must start with /. ${FORM}`);
  }
  return { ...actions, [name]: { methods: methods.map((m) => m.toUpperCase()), pathPrefixes } };
}
