/**
 * `npm run bench:soak`: warm room views (src/sync/warm-views.ts) under churn, checked against the
 * homeserver's own history. One viewer is in 10 rooms with 3 other users. For `--seconds`, at
 * once: the others send numbered messages (`w<k>-<n>`) straight to Synapse and now and then
 * rename their rooms; the viewer sends messages (`v-<n>`) and renames its own room through the
 * facade; and the viewer reads its room list through the facade, one read after another, each
 * with its own `X-Request-Id` so that a proxy in front of Synapse counts that read's upstream
 * calls (0: answered warm). Then every room's full history is read from Synapse (`/messages`
 * backwards) and every answer is checked (bench/lib/soak-checks.ts):
 *
 *   1. exists            the reported newest message is in the room's history
 *   2. readYourWrites    no viewer message (or rename) done before the read started is newer
 *   3. monotonic         a room's reported newest message never goes back between reads
 *   4. boundedStaleness  no message sent more than 2 s before the read started is newer
 *   5. names             a reported name is one the room had, and never goes back
 *   +  complete          every answer lists all 10 rooms
 *
 *   npm run bench:soak                      180 s, writes bench/results/warm-soak.json
 *   npm run bench:soak -- --seconds N       N s
 *   npm run bench:soak -- --smoke           20 s, writes bench/results/smoke/warm-soak.json
 *   npm run bench:soak -- --instances 3 --kill-holder
 *                                           cluster mode: 3 facades on a Redis of their own, each
 *                                           read and write to one at random; halfway, the one
 *                                           running the viewer's sync loop is killed (-9) and
 *                                           started again 2 s later; writes warm-soak-cluster.json
 *
 * Starts its own Synapse unless MATRIX_HOMESERVER_URL and MATRIX_REGISTRATION_SHARED_SECRET are
 * set. Exits 1 on any violation. `runWarmSoak` is the whole soak against a given homeserver
 * (test/integration/warm-soak.test.ts runs it for 15 s).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Agent, request } from 'undici';
import { registerUser } from '../scripts/synapse/register.ts';
import { matrix, newAgent } from './lib/client.ts';
import { startCountingProxy } from './lib/counting-proxy.ts';
import { synapseVersion } from './lib/environment.ts';
import { graphqlBody, graphqlHeaders } from './lib/graphql-http.ts';
import { benchHomeserver } from './lib/homeserver.ts';
import { createRoom, joinRoom, type RegisteredUser, registerUsers, sendText } from './lib/seed.ts';
import {
  type AnsweredRoom,
  checkSoak,
  type HistoryEvent,
  type ReadRecord,
  RULES,
  type Rule,
  type ViewerWrite,
  type Violation,
} from './lib/soak-checks.ts';
import { startSoakFacades } from './lib/soak-facades.ts';
import { round, type Summary, summarize } from './lib/stats.ts';

export interface WarmSoakOptions {
  readonly homeserverUrl: string;
  readonly sharedSecret: string;
  /** How long the churn lasts. */
  readonly seconds: number;
  /** Other users writing (2 or 3). @default 3 */
  readonly writers?: number;
  /** Rule 4's bound. @default 2000 */
  readonly stalenessMs?: number;
  /**
   * Facade instances; more than one run in cluster mode on a Redis of their own, and each read and
   * write goes to one at random (no sticky sessions). @default 1
   */
  readonly instances?: number;
  /**
   * Cluster mode: halfway through, kill the instance running the viewer's sync loop (`kill -9`)
   * and start it again 2 s later. @default false
   */
  readonly killHolder?: boolean;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
}

export interface WarmSoakResult {
  readonly seconds: number;
  readonly instances: number;
  /** The instance killed and restarted halfway ({@link WarmSoakOptions.killHolder}), if any. */
  readonly killed: number | null;
  readonly rooms: number;
  readonly reads: number;
  readonly warmReads: number;
  readonly coldReads: number;
  readonly failedReads: number;
  /** Reads whose instance was killed under them ({@link WarmSoakOptions.killHolder}): not checked. */
  readonly readsCutByKill: number;
  readonly readErrors: readonly string[];
  /** Cold reads by the endpoints they called (`GET /_matrix/client/v3/account/whoami`, …). */
  readonly coldEndpoints: Record<string, number>;
  readonly writes: {
    readonly viewerMessages: number;
    readonly viewerRenames: number;
    readonly otherMessages: number;
    readonly otherRenames: number;
    readonly failed: number;
    readonly errors: readonly string[];
  };
  readonly violations: Record<Rule, number>;
  /** The first violations of each rule, as what the facade answered vs what Synapse had. */
  readonly violationExamples: readonly (Violation & { instance?: number })[];
  /** Read latency in ms (performance.now()), answered warm (0 upstream calls) vs cold. */
  readonly latencyMs: { readonly warm: Summary; readonly cold: Summary };
  /** Cluster mode: reads, warm reads and warm latency by the instance that answered. */
  readonly byInstance: readonly { reads: number; warmReads: number; warmMs: Summary }[];
  /** `matrix_facade_warm_view_reads_total` deltas over the run, by outcome. */
  readonly warmViewReadsMetric: Record<string, number>;
  /**
   * For the first room with a name violation: every `m.room.name` event the homeserver streamed
   * to the facade for it, in order (which response, which block, which place in the history).
   */
  readonly diagnosis: readonly string[];
  /**
   * After the churn and 2.5 s of quiet, one last read: the rooms whose answered name is not the
   * room's current name on Synapse (`/state/m.room.name`), as "room: answered vs current".
   */
  readonly finalNameMismatches: readonly string[];
  /**
   * Rule 5's regressions as spells: how many times a room's answered name went back to an older
   * one, and the longest time (ms, from the first such read's start to the last's end) it stayed.
   */
  readonly nameRegressions: { readonly spells: number; readonly longestMs: number };
  /** Warnings (and worse) the facade logged. */
  readonly facadeWarnings: readonly string[];
}

const READ_QUERY = /* GraphQL */ `
  query SoakRoomList {
    rooms(first: 20) {
      edges {
        node {
          id
          name
          messages(last: 1) {
            edges {
              node {
                id
                ... on MessageEvent {
                  body
                }
              }
            }
          }
        }
      }
    }
  }
`;

const SEND_MESSAGE = /* GraphQL */ `
  mutation SoakSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      event {
        id
      }
    }
  }
`;

const SET_ROOM_NAME = /* GraphQL */ `
  mutation SoakRename($input: SetRoomNameInput!) {
    setRoomName(input: $input) {
      room {
        id
      }
    }
  }
`;

interface ListData {
  rooms: {
    edges: {
      node: {
        id: string;
        name: string | null;
        messages: { edges: { node: { id: string; body?: string } }[] };
      };
    }[];
  };
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
const between = (low: number, high: number) => low + Math.random() * (high - low);
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** A GraphQL POST to the facade with its own request ID; fails on any error. */
async function facadeCall<T>(
  agent: Agent,
  facadeUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  requestId: string,
): Promise<T> {
  const response = await request(`${facadeUrl}/graphql`, {
    dispatcher: agent,
    method: 'POST',
    headers: { ...graphqlHeaders(token), 'x-request-id': requestId },
    body: graphqlBody(query, variables),
  });
  const text = await response.body.text();
  const parsed = JSON.parse(text) as { data?: T; errors?: unknown[] };
  if (response.statusCode !== 200 || parsed.errors !== undefined || parsed.data == null) {
    throw new Error(`facade: HTTP ${response.statusCode} ${text.slice(0, 300)}`);
  }
  return parsed.data;
}

async function renameStraight(
  agent: Agent,
  homeserverUrl: string,
  token: string,
  roomId: string,
  name: string,
): Promise<void> {
  await matrix(
    agent,
    homeserverUrl,
    token,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`,
    { name },
  );
}

interface RawEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content?: { body?: unknown; name?: unknown };
}

/** A room's whole timeline as `token` sees it, oldest first (`/messages` backwards from now). */
async function roomHistory(
  agent: Agent,
  homeserverUrl: string,
  token: string,
  roomId: string,
): Promise<HistoryEvent[]> {
  const newestFirst: HistoryEvent[] = [];
  let from: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ dir: 'b', limit: '1000' });
    if (from !== undefined) {
      query.set('from', from);
    }
    const { body } = await matrix<{ chunk: RawEvent[]; end?: string }>(
      agent,
      homeserverUrl,
      token,
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${query}`,
    );
    for (const event of body.chunk) {
      const text = event.content?.body;
      const name = event.content?.name;
      newestFirst.push({
        eventId: event.event_id,
        type: event.type,
        sender: event.sender,
        ts: event.origin_server_ts,
        ...(typeof text === 'string' ? { body: text } : {}),
        ...(typeof name === 'string' ? { name } : {}),
      });
    }
    if (body.end === undefined || body.chunk.length === 0) {
      break;
    }
    from = body.end;
  }
  return newestFirst.reverse();
}

interface NameTraceEntry {
  readonly wall: number;
  readonly since: string | null;
  readonly nextBatch: string;
  readonly roomId: string;
  readonly block: 'state' | 'timeline';
  readonly limited: boolean;
  readonly eventId: string;
  readonly name: string;
  /** The first event of the room's timeline in that response. */
  readonly timelineStart: string | null;
}

/** Notes the `m.room.name` events of one `/sync` response. */
function traceNames(trace: NameTraceEntry[], url: string, body: string): void {
  let parsed: {
    next_batch?: string;
    rooms?: {
      join?: Record<
        string,
        { state?: { events?: RawEvent[] }; timeline?: { events?: RawEvent[]; limited?: boolean } }
      >;
    };
  };
  try {
    parsed = JSON.parse(body);
  } catch {
    return;
  }
  const since = new URL(url, 'http://proxy').searchParams.get('since');
  for (const [roomId, room] of Object.entries(parsed.rooms?.join ?? {})) {
    const limited = room.timeline?.limited ?? false;
    for (const [block, events] of [
      ['state', room.state?.events ?? []],
      ['timeline', room.timeline?.events ?? []],
    ] as const) {
      for (const event of events) {
        if (event.type === 'm.room.name') {
          trace.push({
            wall: Date.now(),
            since,
            nextBatch: parsed.next_batch ?? '?',
            roomId,
            block,
            limited,
            eventId: event.event_id,
            name: String(event.content?.name),
            timelineStart: room.timeline?.events?.[0]?.event_id ?? null,
          });
        }
      }
    }
  }
}

/** Rule 5's violations grouped into spells of successive reads of one room. */
function regressionSpells(
  violations: readonly Violation[],
  reads: readonly ReadRecord[],
): { spells: number; longestMs: number } {
  const byRoom = new Map<string, number[]>();
  for (const violation of violations) {
    if (violation.rule === 'names') {
      byRoom.set(violation.roomId, [...(byRoom.get(violation.roomId) ?? []), violation.read]);
    }
  }
  let spells = 0;
  let longestMs = 0;
  for (const indexes of byRoom.values()) {
    let first = -1;
    indexes.forEach((index, at) => {
      if (at === 0 || index !== (indexes[at - 1] ?? -2) + 1) {
        spells += 1;
        first = index;
      }
      const start = reads[first]?.startWall ?? 0;
      const end = reads[index]?.endWall ?? 0;
      longestMs = Math.max(longestMs, end - start);
    });
  }
  return { spells, longestMs };
}

/**
 * The name events streamed for the first room whose name went wrong, with their places; and,
 * for the first state-block name older than one streamed before it, the DAG around it (as the
 * admin `fetch_event` API gives each event's `prev_events`): is the timeline that followed a
 * sibling of the newer name rather than its child?
 */
async function diagnose(
  violations: readonly Violation[],
  trace: readonly NameTraceEntry[],
  history: ReadonlyMap<string, readonly HistoryEvent[]>,
  fetchPrevEvents: (eventId: string) => Promise<string[]>,
): Promise<string[]> {
  const first = violations.find(
    (violation) =>
      violation.rule === 'names' ||
      (violation.rule === 'readYourWrites' && violation.detail.includes('name')),
  );
  if (!first) {
    return [];
  }
  const events = history.get(first.roomId) ?? [];
  const place = (eventId: string) => events.findIndex((event) => event.eventId === eventId);
  const roomTrace = trace.filter((entry) => entry.roomId === first.roomId);
  const dag: string[] = [];
  let newest: NameTraceEntry | null = null;
  for (const entry of roomTrace) {
    if (newest && entry.block === 'state' && place(entry.eventId) < place(newest.eventId)) {
      const describe = async (label: string, eventId: string) => {
        const parents = await fetchPrevEvents(eventId).catch((error) => [String(error)]);
        const parentText = parents.map((parent) => `#${place(parent)} ${parent}`).join(', ');
        dag.push(`  ${label} #${place(eventId)} ${eventId}: prev_events [${parentText}]`);
      };
      dag.push(`DAG at the first regression (state-block "${entry.name}" after "${newest.name}"):`);
      await describe(`newer name "${newest.name}"`, newest.eventId);
      if (entry.timelineStart !== null) {
        await describe('first timeline event of the regressing response', entry.timelineStart);
      }
      break;
    }
    if (!newest || place(entry.eventId) > place(newest.eventId)) {
      newest = entry;
    }
  }
  return [
    `name events /sync streamed to the facade for ${first.roomId} (first violation: read ${first.read}: ${first.detail}):`,
    ...roomTrace.map(
      (entry) =>
        `  ${new Date(entry.wall).toISOString()} since=${entry.since} next=${entry.nextBatch} ` +
        `${entry.block}${entry.limited ? ' (limited)' : ''}: #${place(entry.eventId)} "${entry.name}" ${entry.eventId}` +
        (entry.block === 'state' && entry.timelineStart !== null
          ? ` (timeline starts at #${place(entry.timelineStart)})`
          : ''),
    ),
    ...dag,
  ];
}

/** The whole soak against `homeserverUrl`: seeds it, runs the churn, checks every answer. */
export async function runWarmSoak(options: WarmSoakOptions): Promise<WarmSoakResult> {
  const log = options.log ?? (() => {});
  const writerCount = options.writers ?? 3;
  const stalenessMs = options.stalenessMs ?? 2000;
  const { homeserverUrl } = options;
  const agent = newAgent();
  try {
    const [viewer, ...others] = (await registerUsers(
      homeserverUrl,
      options.sharedSecret,
      writerCount + 1,
      'soak',
    )) as [RegisteredUser, ...RegisteredUser[]];
    // Each writer owns 3 rooms (and may rename them: creators hold power 100); the viewer one.
    const owned = new Map<string, string[]>();
    const allRooms: string[] = [];
    const everyone = [viewer, ...others];
    for (const [k, owner] of others.entries()) {
      for (let j = 0; j < 3; j++) {
        const roomId = await createRoom(
          agent,
          homeserverUrl,
          owner.accessToken,
          `w${k}-room-${j}`,
          'soak',
        );
        owned.set(owner.userId, [...(owned.get(owner.userId) ?? []), roomId]);
        allRooms.push(roomId);
      }
    }
    const viewerRoom = await createRoom(agent, homeserverUrl, viewer.accessToken, 'v-room', 'soak');
    allRooms.push(viewerRoom);
    for (const roomId of allRooms) {
      for (const user of everyone) {
        await joinRoom(agent, homeserverUrl, user.accessToken, roomId);
      }
      await sendText(agent, homeserverUrl, viewer.accessToken, roomId, 'seed');
    }
    log(`seeded ${allRooms.length} rooms, ${everyone.length} users`);

    await using proxy = await startCountingProxy(homeserverUrl, { recordRequestIds: true });
    const instances = options.instances ?? 1;
    await using facades = await startSoakFacades(proxy.url, instances, {
      WARM_VIEW_IDLE_MS: '60000',
    });
    const metricsBefore = await facades.warmViewReads();
    /** Which instance answered each read, by request ID. */
    const answeredBy = new Map<string, number>();
    // What the homeserver streams to the facade, as far as names go (for a diagnosis).
    const nameTrace: NameTraceEntry[] = [];
    proxy.syncObserver = (_token, body, _receivedAt, url) => traceNames(nameTrace, url, body);

    const reads: ReadRecord[] = [];
    const viewerWrites: ViewerWrite[] = [];
    const writeErrors: string[] = [];
    const readErrors: string[] = [];
    let otherMessages = 0;
    let readsCutByKill = 0;
    let otherRenames = 0;
    const deadline = performance.now() + options.seconds * 1000;
    const running = () => performance.now() < deadline;

    const otherWriter = async (k: number, user: RegisteredUser): Promise<void> => {
      const mine = owned.get(user.userId) ?? [];
      for (let n = 0; running(); n++) {
        try {
          if (Math.random() < 0.08) {
            await renameStraight(
              agent,
              homeserverUrl,
              user.accessToken,
              pick(mine),
              `w${k}-name-${n}`,
            );
            otherRenames += 1;
          } else {
            await sendText(agent, homeserverUrl, user.accessToken, pick(allRooms), `w${k}-${n}`);
            otherMessages += 1;
          }
        } catch (error) {
          writeErrors.push(String(error));
        }
        await sleep(between(50, 300));
      }
    };

    const viewerWriter = async (): Promise<void> => {
      for (let n = 0; running(); n++) {
        const rename = Math.random() < 0.2;
        const roomId = rename ? viewerRoom : pick(allRooms);
        const value = rename ? `v-name-${n}` : `v-${n}`;
        const startWall = Date.now();
        const startPerf = performance.now();
        try {
          let eventId: string | null = null;
          if (rename) {
            await facadeCall(
              agent,
              facades.pick().url,
              viewer.accessToken,
              SET_ROOM_NAME,
              { input: { roomId, name: value } },
              randomUUID(),
            );
          } else {
            const data = await facadeCall<{ sendMessage: { event: { id: string } } }>(
              agent,
              facades.pick().url,
              viewer.accessToken,
              SEND_MESSAGE,
              { input: { roomId, body: value } },
              randomUUID(),
            );
            eventId = data.sendMessage.event.id;
          }
          viewerWrites.push({
            kind: rename ? 'name' : 'message',
            roomId,
            value,
            eventId,
            startWall,
            startPerf,
            endWall: Date.now(),
            endPerf: performance.now(),
          });
        } catch (error) {
          writeErrors.push(String(error));
        }
        await sleep(between(100, 500));
      }
    };

    const reader = async (): Promise<void> => {
      for (let index = 0; running(); index++) {
        const requestId = randomUUID();
        const startWall = Date.now();
        const startPerf = performance.now();
        let rooms: AnsweredRoom[] = [];
        let error: string | undefined;
        const instance = facades.pick();
        try {
          answeredBy.set(requestId, instance.index);
          const data = await facadeCall<ListData>(
            agent,
            instance.url,
            viewer.accessToken,
            READ_QUERY,
            {},
            requestId,
          );
          rooms = data.rooms.edges.map(({ node }) => {
            const newest = node.messages.edges.at(-1)?.node;
            return {
              id: node.id,
              name: node.name,
              newestId: newest?.id ?? null,
              newestBody: newest?.body ?? null,
            };
          });
        } catch (caught) {
          if (facades.killedSince(instance.index, startPerf)) {
            // Its instance was killed under it: no answer to check (a client would retry).
            readsCutByKill += 1;
            continue;
          }
          error = String(caught);
          readErrors.push(error);
        }
        const endPerf = performance.now();
        const endWall = Date.now();
        reads.push({
          index,
          requestId,
          startWall,
          startPerf,
          endWall,
          endPerf,
          upstreamCalls: proxy.callsOf(requestId),
          upstreamEndpoints: proxy.endpointsOf(requestId),
          rooms,
          ...(error === undefined ? {} : { error }),
        });
        await sleep(between(5, 30));
      }
    };

    const progress = setInterval(() => {
      const warm = reads.filter((read) => read.upstreamCalls === 0 && !read.error).length;
      log(
        `${reads.length} reads (${warm} warm), ${viewerWrites.length} viewer writes, ` +
          `${otherMessages + otherRenames} other writes`,
      );
    }, 10_000);
    let killed: number | null = null;
    const chaos = async (): Promise<void> => {
      if (!options.killHolder) {
        return;
      }
      await sleep((options.seconds * 1000) / 2);
      const before = reads.length;
      killed = await facades.killHolder(viewer.accessToken, 2000);
      log(
        `killed instance ${killed} (the viewer's loop holder) at read ${before}, started it again after 2 s`,
      );
    };
    try {
      await Promise.all([
        reader(),
        viewerWriter(),
        ...others.map((user, k) => otherWriter(k, user)),
        chaos(),
      ]);
    } finally {
      clearInterval(progress);
    }
    // Quiet, then one last read (checked with the others): does the view settle on the truth?
    await sleep(2500);
    const finalRead = await facadeCall<ListData>(
      agent,
      facades.pick().url,
      viewer.accessToken,
      READ_QUERY,
      {},
      randomUUID(),
    );
    const finalNameMismatches: string[] = [];
    for (const { node } of finalRead.rooms.edges) {
      const { body } = await matrix<{ name?: string }>(
        agent,
        homeserverUrl,
        viewer.accessToken,
        'GET',
        `/_matrix/client/v3/rooms/${encodeURIComponent(node.id)}/state/m.room.name/`,
      );
      if (body.name !== node.name) {
        finalNameMismatches.push(`${node.id}: answered "${node.name}", current "${body.name}"`);
      }
    }
    // A restarted instance counts from its start: the sum is then a lower bound.
    const metricsAfter = await facades.warmViewReads();
    const warmViewReadsMetric: Record<string, number> = {};
    for (const [outcome, value] of Object.entries(metricsAfter)) {
      warmViewReadsMetric[outcome] = Math.max(0, value - (metricsBefore[outcome] ?? 0));
    }

    // The homeserver's own account of what happened, as the viewer sees it.
    const history = new Map<string, HistoryEvent[]>();
    for (const roomId of allRooms) {
      history.set(roomId, await roomHistory(agent, homeserverUrl, viewer.accessToken, roomId));
    }
    const violations = checkSoak(reads, viewerWrites, history, {
      stalenessMs,
      roomIds: allRooms,
    });
    const nameRegressions = regressionSpells(violations, reads);
    // An admin, only to read the DAG (`prev_events`) around a regression.
    const admin = await registerUser(homeserverUrl, options.sharedSecret, {
      prefix: 'soak-admin',
      admin: true,
    });
    const diagnosis = await diagnose(violations, nameTrace, history, async (eventId) => {
      const { body } = await matrix<{ event: { prev_events?: string[] } }>(
        agent,
        homeserverUrl,
        admin.accessToken,
        'GET',
        `/_synapse/admin/v1/fetch_event/${encodeURIComponent(eventId)}`,
      );
      return body.event.prev_events ?? [];
    });
    const counts = Object.fromEntries(RULES.map((rule) => [rule, 0])) as Record<Rule, number>;
    const examples: WarmSoakResult['violationExamples'][number][] = [];
    for (const violation of violations) {
      counts[violation.rule] += 1;
      if (counts[violation.rule] <= 5) {
        const read = reads.find((record) => record.index === violation.read);
        const instance = read === undefined ? undefined : answeredBy.get(read.requestId);
        examples.push(
          instances > 1 && instance !== undefined ? { ...violation, instance } : violation,
        );
      }
    }
    const succeeded = reads.filter((read) => read.error === undefined);
    const warm = succeeded.filter((read) => read.upstreamCalls === 0);
    const cold = succeeded.filter((read) => read.upstreamCalls > 0);
    const coldEndpoints: Record<string, number> = {};
    for (const read of cold) {
      for (const endpoint of read.upstreamEndpoints) {
        const shape = endpoint.replace(/\/(%21|!)[^/]+/g, '/{roomId}');
        coldEndpoints[shape] = (coldEndpoints[shape] ?? 0) + 1;
      }
    }
    const latency = (items: readonly ReadRecord[]) =>
      summarize(items.map((read) => read.endPerf - read.startPerf));
    const byInstance = Array.from({ length: instances }, (_, index) => {
      const answered = succeeded.filter((read) => answeredBy.get(read.requestId) === index);
      const warmHere = answered.filter((read) => read.upstreamCalls === 0);
      return { reads: answered.length, warmReads: warmHere.length, warmMs: latency(warmHere) };
    });
    return {
      seconds: options.seconds,
      instances,
      killed,
      rooms: allRooms.length,
      reads: reads.length,
      warmReads: warm.length,
      coldReads: cold.length,
      failedReads: reads.length - succeeded.length,
      readsCutByKill,
      readErrors: readErrors.slice(0, 10),
      coldEndpoints,
      writes: {
        viewerMessages: viewerWrites.filter((write) => write.kind === 'message').length,
        viewerRenames: viewerWrites.filter((write) => write.kind === 'name').length,
        otherMessages,
        otherRenames,
        failed: writeErrors.length,
        errors: writeErrors.slice(0, 10),
      },
      violations: counts,
      violationExamples: examples,
      latencyMs: { warm: latency(warm), cold: latency(cold) },
      byInstance,
      warmViewReadsMetric,
      diagnosis,
      nameRegressions,
      finalNameMismatches,
      facadeWarnings: facades.warnings().slice(0, 20),
    };
  } finally {
    await agent.close();
  }
}

/** The printed summary of a soak. */
export function formatSoak(result: WarmSoakResult): string {
  const ms = (summary: Summary) =>
    summary.n === 0 ? 'n/a' : `p50 ${round(summary.p50, 1)} ms, p99 ${round(summary.p99, 1)} ms`;
  const lines = [
    `warm soak: ${result.seconds} s, ${result.rooms} rooms, ${result.instances} facade instance(s)` +
      (result.killed === null ? '' : `, instance ${result.killed} killed halfway`),
    `reads: ${result.reads} (warm ${result.warmReads}, cold ${result.coldReads}, failed ${result.failedReads}` +
      (result.killed === null ? ')' : `; ${result.readsCutByKill} cut by the kill, not counted)`),
    `writes: viewer ${result.writes.viewerMessages} messages + ${result.writes.viewerRenames} renames (facade); ` +
      `others ${result.writes.otherMessages} messages + ${result.writes.otherRenames} renames (Synapse); failed ${result.writes.failed}`,
    `latency: warm ${ms(result.latencyMs.warm)}; cold ${ms(result.latencyMs.cold)}`,
    ...(result.instances > 1
      ? result.byInstance.map(
          (instance, index) =>
            `  instance ${index}: ${instance.reads} reads, ${instance.warmReads} warm, warm ${ms(instance.warmMs)}`,
        )
      : []),
    `cold reads called: ${
      Object.entries(result.coldEndpoints)
        .map(([endpoint, calls]) => `${endpoint} ×${calls}`)
        .join(', ') || 'nothing'
    }`,
    `matrix_facade_warm_view_reads_total: ${
      Object.entries(result.warmViewReadsMetric)
        .map(([outcome, value]) => `${outcome} ${value}`)
        .join(', ') || 'none'
    }`,
    `final read, 2.5 s after the churn: ${result.finalNameMismatches.length} names differ from Synapse's current state`,
    ...result.finalNameMismatches.map((line) => `  ${line}`),
    `name regressions: ${result.nameRegressions.spells} spells, longest ${result.nameRegressions.longestMs} ms`,
    `violations: ${RULES.map((rule) => `${rule} ${result.violations[rule]}`).join(', ')}`,
    ...result.violationExamples.map(
      (violation) =>
        `  ${violation.rule} read ${violation.read}${violation.instance === undefined ? '' : ` (instance ${violation.instance})`} ${violation.roomId}: ${violation.detail}`,
    ),
    ...result.diagnosis,
    ...result.readErrors.map((error) => `  read error: ${error}`),
    ...result.writes.errors.map((error) => `  write error: ${error}`),
  ];
  return lines.join('\n');
}

/** Whether the soak broke no rule. */
export function soakPassed(result: WarmSoakResult): boolean {
  return (
    RULES.every((rule) => result.violations[rule] === 0) &&
    result.failedReads === 0 &&
    result.finalNameMismatches.length === 0
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      writers: { type: 'string' },
      instances: { type: 'string' },
      'kill-holder': { type: 'boolean', default: false },
      'results-dir': { type: 'string' },
    },
  });
  const smoke = values.smoke ?? false;
  const seconds = Number(values.seconds ?? (smoke ? 20 : 180));
  const writers = Number(values.writers ?? 3);
  const instances = Number(values.instances ?? 1);
  if (!(seconds > 0) || !(writers >= 1) || !Number.isInteger(instances) || instances < 1) {
    throw new Error('--seconds, --writers and --instances must be positive numbers');
  }
  if (values['kill-holder'] && instances < 2) {
    throw new Error('--kill-holder needs --instances 2 or more (cluster mode)');
  }
  const root = resolve(import.meta.dirname, '..');
  const resultsDir = resolve(
    values['results-dir'] ?? resolve(root, smoke ? 'bench/results/smoke' : 'bench/results'),
  );
  const local = await benchHomeserver();
  const { url: homeserverUrl, sharedSecret } = local;
  try {
    const environment = {
      date: new Date().toISOString(),
      node: process.version,
      synapse: await synapseVersion(homeserverUrl),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverage: loadavg().map((load) => Math.round(load * 100) / 100),
    };
    console.log(
      `warm soak${smoke ? ' (smoke)' : ''}: ${seconds} s, Synapse ${environment.synapse} at ` +
        `${homeserverUrl}; node ${process.version}; ${environment.cpus} CPUs, load ${environment.loadAverage.join(' ')}`,
    );
    const result = await runWarmSoak({
      homeserverUrl,
      sharedSecret,
      seconds,
      writers,
      instances,
      killHolder: values['kill-holder'] ?? false,
      log: (line) => console.log(line),
    });
    console.log(formatSoak(result));
    await mkdir(resultsDir, { recursive: true });
    const file = resolve(resultsDir, instances > 1 ? 'warm-soak-cluster.json' : 'warm-soak.json');
    await writeFile(file, `${JSON.stringify({ environment, ...result }, null, 2)}\n`);
    console.log(`wrote ${file}`);
    if (!soakPassed(result)) {
      process.exitCode = 1;
    }
  } finally {
    await local[Symbol.asyncDispose]();
  }
}
