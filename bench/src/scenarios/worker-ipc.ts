import type { ChildProcess } from 'node:child_process';

/** The next message of `type` from a forked bench worker; rejects if the worker exits first. */
export function nextMessage<M extends { type: string }>(
  child: ChildProcess,
  type: M['type'],
  worker: string,
): Promise<M> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`${worker} exited (${code}) before ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
