/** The caller of one request: their upstream client and, asked once, who they are. */
import { type Whoami, whoami } from '../matrix/account.ts';
import type { MatrixClient } from '../matrix/matrix-client.ts';
import type { DeliveryTrace, SyncAccount } from '../sync/sync-hub.ts';

/**
 * The viewer: a client bound to their token (and to the request's lifetime, so that nothing it
 * starts outlives the request), and their identity, fetched at most once. A websocket connection
 * that checked the token at `connection_init` hands that answer on, so its subscriptions start
 * without asking again.
 */
export class Viewer {
  readonly client: MatrixClient;
  readonly #accessToken: string;
  readonly #trace: DeliveryTrace | undefined;
  #whoami: Promise<Whoami> | null;

  constructor(
    client: MatrixClient,
    accessToken: string,
    known: Whoami | null = null,
    trace?: DeliveryTrace,
  ) {
    this.client = client;
    this.#accessToken = accessToken;
    this.#whoami = known === null ? null : Promise.resolve(known);
    this.#trace = trace;
  }

  /** The token, to key what is kept for it (warm room views); never logged, never shown. */
  get accessToken(): string {
    return this.#accessToken;
  }

  /** `GET /account/whoami`, once per viewer. */
  whoami(): Promise<Whoami> {
    this.#whoami ??= whoami(this.client);
    return this.#whoami;
  }

  /**
   * The token and its user, which the sync bridge keys and starts a loop by, and the operation's
   * trace, where its stream notes what it hands out (metrics).
   */
  async account(): Promise<SyncAccount> {
    const { userId } = await this.whoami();
    return { accessToken: this.#accessToken, userId, trace: this.#trace };
  }

  /** Never the token: a logged viewer must not leak it. */
  toJSON(): object {
    return { viewer: true };
  }
}
