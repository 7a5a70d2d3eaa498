import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { idleMemoryReclaimer } from '../../../src/server/idle-memory.ts';

/** A reclaimer whose runs are counted through its debug lines. */
function counted(isIdle: () => boolean) {
  const lines: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => lines.push(line) });
  const reclaimer = idleMemoryReclaimer(isIdle, logger);
  return {
    reclaimer,
    runs: () => lines.filter((line) => line.includes('memory reclaimed')).length,
  };
}

describe('idleMemoryReclaimer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should collect once, a moment after going idle, however often it is told', () => {
    const { reclaimer, runs } = counted(() => true);
    reclaimer.idle();
    reclaimer.idle();
    vi.advanceTimersByTime(1999);
    expect(runs()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(runs()).toBe(1);
  });

  it('should not collect when busy again by then, nor more than once a minute', () => {
    let idle = false;
    const { reclaimer, runs } = counted(() => idle);
    reclaimer.idle();
    vi.advanceTimersByTime(2000);
    expect(runs()).toBe(0);

    idle = true;
    reclaimer.idle();
    vi.advanceTimersByTime(2000);
    expect(runs()).toBe(1);
    reclaimer.idle();
    vi.advanceTimersByTime(59_999);
    expect(runs()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs()).toBe(2);
  });

  it('should not collect after being cancelled', () => {
    const { reclaimer, runs } = counted(() => true);
    reclaimer.idle();
    reclaimer.cancel();
    vi.advanceTimersByTime(10_000);
    expect(runs()).toBe(0);
  });
});
