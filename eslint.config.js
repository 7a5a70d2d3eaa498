/**
 * ESLint lints one file here: the committed schema.graphql, with graphql-eslint's
 * `schema-recommended` and `schema-relay` rules (Biome lints the code). Run by
 * test/unit/contract/schema-lint.test.ts (so by `npm test`) and by `npm run schema:lint`.
 *
 * Each option changed from the presets says why below. Node IDs in this API are the Matrix IDs
 * themselves (`!room:hs`, `@user:hs`, `$event`), which shapes most of these choices.
 */
import graphqlPlugin from '@graphql-eslint/eslint-plugin';

const recommended = graphqlPlugin.configs['flat/schema-recommended'].rules;
const relay = graphqlPlugin.configs['flat/schema-relay'].rules;

export default [
  {
    files: ['schema.graphql'],
    languageOptions: {
      parser: graphqlPlugin.parser,
      parserOptions: { graphQLConfig: { schema: 'schema.graphql' } },
    },
    plugins: { '@graphql-eslint': graphqlPlugin },
    rules: {
      ...recommended,
      ...relay,
      '@graphql-eslint/strict-id-in-types': [
        'error',
        {
          acceptedIdNames: ['id'],
          acceptedIdTypes: ['ID'],
          exceptions: {
            // Relay's own plumbing has no identity: mutation payloads, connections and edges
            // (the rule's documented exception for payloads), and PageInfo.
            suffixes: ['Payload', 'Connection', 'Edge'],
            types: [
              'PageInfo',
              // Values inside a room's state with no Matrix ID of their own. A client cache keys
              // records by `id` (Relay's store does), so an `id` here would have to be made up,
              // and one equal to the room's or user's ID would collide with that Room or User.
              'PowerLevels',
              'EventPowerLevel',
              'UserPowerLevel',
              'RoomPredecessor',
              // The viewer's own per-room values (account data, unread counts): no Matrix ID,
              // and the room's would collide with the Room.
              'ReadMarker',
              'RoomTag',
              'UnreadNotifications',
              // A room member is (room, user): no Matrix ID names it; the member event's ID
              // changes with every membership change.
              'RoomMember',
              // A directory entry about a room: its ID would be the room's, so it has none and
              // links to the Room instead (`PublicRoom.room`).
              'PublicRoom',
              // Where an alias points now: an alias is no ID (it can move), so it links to the Room.
              'ResolvedRoomAlias',
              // Items of subscription streams, not objects that can be fetched again.
              'MembershipUpdate',
              'RoomEventsUpdate',
              'TimelineGap',
              'RoomListPage',
              // The viewer's devices and third-party identifiers: a device ID is unique only
              // among one user's devices (clients may pick it), and an email address or phone
              // number is no Matrix ID; an `id` would have to be made up.
              'UserDevice',
              'ThirdPartyIdentifier',
              // User-interactive authentication's answer (`AuthRequired`) and its flows: a step
              // of one mutation call, not an object that can be fetched again.
              'AuthRequired',
              'AuthFlow',
              // The caller, refetched through `Query.viewer` (Relay's Viewer convention, no
              // `id` needed); an `id` equal to the user ID would collide with that User.
              'Viewer',
            ],
          },
        },
      ],
      '@graphql-eslint/relay-edge-types': [
        'error',
        {
          withEdgeSuffix: true,
          // Off: node IDs are Matrix IDs, so only what a Matrix ID names can be a Node. A
          // PublicRoom is a directory entry whose ID would be its room's (it links to the Room
          // instead), and a RoomMember has no Matrix ID (see above): the nodes of
          // PublicRoomEdge and RoomMemberEdge cannot implement Node.
          shouldImplementNode: false,
          // Off: it would make every list a connection. The lists here are complete values
          // read from one state event or sync response (aliases, power levels, creators, the
          // typing users, a room's state) or Relay's own `nodes(ids:)`, never paged upstream.
          listTypeCanWrapOnlyEdgeType: false,
        },
      ],
    },
  },
];
