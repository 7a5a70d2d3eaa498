/** Typing notifications (`typing.yaml`). */
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';

/**
 * `PUT /rooms/{roomId}/typing/{userId}`: the user types for the next `timeoutMs` milliseconds,
 * or (`typing: false`) has stopped. Idempotent: it sets the state.
 */
export async function setTyping(
  client: MatrixClient,
  roomId: string,
  userId: string,
  typing: boolean,
  timeoutMs: number,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    {
      method: 'PUT',
      path: clientPath`/rooms/${roomId}/typing/${userId}`,
      body: typing ? { typing, timeout: timeoutMs } : { typing },
    },
    options,
  );
}
