import { reportSafely, type StoreReporter } from '../db/pool-errors.js';
import type {
  Counter,
  CounterAdmission,
  CounterCall,
  CounterInvalidation,
  CounterRow,
  CounterTarget,
} from './port.js';

const UNKNOWN: CounterAdmission = { kind: 'unknown' };

/**
 * The store's side of the counter port: every call to the counter is bounded (half of what is
 * left of the request's deadline, so PostgreSQL keeps the other half) and can only slow a
 * request, never fail it: a rejection or a late answer is `unknown` for an admission, and is
 * reported and dropped for the rest.
 */
export class CounterFront {
  constructor(
    private readonly counter: Counter,
    private readonly report: StoreReporter,
  ) {}

  /** The store closed: the counter stops telling its onError (Counter.unbind). */
  close(): void {
    try {
      this.counter.unbind?.(this.report);
    } catch (error) {
      reportSafely(this.report, error, 'counter.unbind');
    }
  }

  async admit(call: CounterCall, deadlineAt: number): Promise<CounterAdmission> {
    const answer = await this.bounded(() => this.counter.admit(call), deadlineAt, 'counter.admit');
    if (!answer || typeof answer !== 'object') return UNKNOWN;
    if (answer.kind === 'refused' && answer.row && answer.row.outcome !== 'ok') return answer;
    return answer.kind === 'reserved' ? answer : UNKNOWN;
  }

  async settle(call: CounterCall, reserved: boolean, row: CounterRow | undefined, deadlineAt: number) {
    await this.bounded(() => this.counter.settle(call, reserved, row), deadlineAt, 'counter.settle');
  }

  async abandon(call: CounterCall, reserved: boolean): Promise<void> {
    await this.bounded(() => this.counter.abandon(call, reserved), Date.now() + 1000, 'counter.abandon');
  }

  async invalidate(target: CounterTarget, options?: CounterInvalidation): Promise<void> {
    await this.bounded(
      () => (options ? this.counter.invalidate(target, options) : this.counter.invalidate(target)),
      Date.now() + 1000,
      'counter.invalidate',
    );
  }

  private bounded<T>(work: () => Promise<T>, deadlineAt: number, what: string): Promise<T | undefined> {
    const left = Math.floor((deadlineAt - Date.now()) / 2);
    if (left <= 0) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), left);
      let running: Promise<T>;
      try {
        running = Promise.resolve(work());
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          this.report(error, what);
          resolve(undefined);
        },
      );
    });
  }
}
