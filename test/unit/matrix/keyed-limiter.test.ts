import { describe, expect, it } from 'vitest';
import { KeyedLimiter } from '../../../src/matrix/keyed-limiter.ts';

/** A task that runs until the test calls `finish`, recording that it started. */
function gate() {
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return { finished, finish: () => finish() };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedLimiter', () => {
  it('should run at most `limit` tasks of one key at once, the rest in arrival order', async () => {
    const limiter = new KeyedLimiter(2);
    const started: number[] = [];
    const gates = [gate(), gate(), gate(), gate()];
    const runs = gates.map((g, index) =>
      limiter.run('alice', async () => {
        started.push(index);
        await g.finished;
        return index;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    expect(limiter.waiting('alice')).toBe(2);

    gates[1]?.finish();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.finish();
    gates[2]?.finish();
    gates[3]?.finish();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
  });

  it("should let another key's task run at once while one key's queue is full", async () => {
    const limiter = new KeyedLimiter(2);
    const busy = gate();
    const heavy = Array.from({ length: 20 }, () => limiter.run('alice', () => busy.finished));
    await settle();
    expect(limiter.waiting('alice')).toBe(18);

    // Bob is not queued behind Alice's eighteen waiting calls.
    expect(await limiter.run('bob', async () => 'bob answered')).toBe('bob answered');

    busy.finish();
    await Promise.all(heavy);
  });

  it('should free the slot when a task fails', async () => {
    const limiter = new KeyedLimiter(1);
    await expect(limiter.run('alice', () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(await limiter.run('alice', async () => 'next')).toBe('next');
  });

  it('should take a waiting task whose signal aborts out of the queue, never running it', async () => {
    const limiter = new KeyedLimiter(1);
    const busy = gate();
    const first = limiter.run('alice', () => busy.finished);
    const controller = new AbortController();
    let ran = false;
    const waiting = limiter.run(
      'alice',
      async () => {
        ran = true;
      },
      controller.signal,
    );
    await settle();
    const reason = new Error('the client went away');
    controller.abort(reason);

    await expect(waiting).rejects.toBe(reason);
    expect(limiter.waiting('alice')).toBe(0);
    busy.finish();
    await first;
    expect(ran).toBe(false);
    expect(limiter.size).toBe(0);
  });

  it('should reject at once with the reason of a signal already aborted', async () => {
    const limiter = new KeyedLimiter(1);
    const reason = new Error('gone');
    await expect(limiter.run('alice', async () => 1, AbortSignal.abort(reason))).rejects.toBe(
      reason,
    );
    expect(limiter.size).toBe(0);
  });

  it('should forget a key once nothing of it runs or waits', async () => {
    const limiter = new KeyedLimiter(3);
    const busy = gate();
    const runs = ['a', 'b', 'c', 'a', 'a', 'a'].map((key) => limiter.run(key, () => busy.finished));
    await settle();
    expect(limiter.size).toBe(3);
    busy.finish();
    await Promise.all(runs);
    expect(limiter.size).toBe(0);
  });

  it('should refuse a limit below 1', () => {
    expect(() => new KeyedLimiter(0)).toThrow(RangeError);
    expect(() => new KeyedLimiter(Number.NaN)).toThrow(RangeError);
  });
});
