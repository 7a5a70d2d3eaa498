/** Waiting for a condition the bench can only observe, not be told about (counts, logs, sockets). */
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` every `intervalMs` until it holds (true) or `timeoutMs` passes (false). */
export async function until(
  check: () => boolean,
  timeoutMs: number,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) {
      return false;
    }
    await sleep(intervalMs);
  }
  return true;
}
