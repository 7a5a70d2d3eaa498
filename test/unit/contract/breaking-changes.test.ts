import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  breakingChanges,
  newestRelease,
  unlistedBreakingChanges,
  unreleasedSection,
} from './schema-changes.ts';

const root = resolve(import.meta.dirname, '../../..');

describe('schema.graphql against the last released schema', () => {
  it('should name every breaking change in the Unreleased section of CHANGELOG.md', async () => {
    const release = newestRelease(join(root, 'docs/schema-releases'));
    expect(release, 'docs/schema-releases/ holds no <version>.graphql').not.toBeNull();
    if (release === null) {
      return;
    }
    const changes = await breakingChanges(
      readFileSync(release.file, 'utf8'),
      readFileSync(join(root, 'schema.graphql'), 'utf8'),
    );
    const unlisted = unlistedBreakingChanges(
      changes,
      readFileSync(join(root, 'CHANGELOG.md'), 'utf8'),
    );
    expect(
      unlisted.map(({ path, messages }) => `\`${path}\`: ${messages.join('; ')}`),
      `breaking changes since ${release.version} that CHANGELOG.md's "## [Unreleased]" section ` +
        'does not name: list each path in backticks there, with what clients must do',
    ).toEqual([]);
  });
});

describe('schema-changes', () => {
  const released = /* GraphQL */ `
    type Query { room(id: ID!): Room }
    type Room { id: ID!, name: String, topic: String }
  `;
  const current = /* GraphQL */ `
    type Query { room(id: ID!, via: [String!]!): Room }
    type Room { id: ID!, name: Int, displayName: String }
  `;
  const changelog = (unreleased: string): string =>
    `# Changelog\n\n## [Unreleased]\n\n${unreleased}\n\n## [0.1.0] - 2026-11-23\n\n- \`Room.topic\`\n`;

  it('should find each breaking change by its path, and no additions', async () => {
    const changes = await breakingChanges(released, current);
    expect(changes.map((change) => change.path)).toEqual([
      'Query.room.via',
      'Room.name',
      'Room.topic',
    ]);
  });

  it('should accept a change named in backticks under Unreleased, and nothing else', async () => {
    const changes = await breakingChanges(released, current);
    const text = changelog(
      [
        '<!-- `Room.name` in a comment does not count -->',
        '- Removed `Room.topic`; read `Room.displayName`.',
        '- Room.name is an Int now (not in backticks, so not counted).',
      ].join('\n'),
    );
    expect(unlistedBreakingChanges(changes, text).map((change) => change.path)).toEqual([
      'Query.room.via',
      'Room.name',
    ]);
  });

  it('should not count a path named only under a released version', async () => {
    const changes = await breakingChanges(released, current);
    expect(unlistedBreakingChanges(changes, changelog('- nothing yet'))).toHaveLength(3);
  });

  it('should refuse a changelog without an Unreleased section', () => {
    expect(() => unreleasedSection('# Changelog\n\n## [0.1.0]\n')).toThrow(/Unreleased/);
  });

  it('should take the newest release by semantic version, not by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'schema-releases-'));
    for (const name of ['0.9.0.graphql', '0.10.0.graphql', '0.2.1.graphql', 'notes.md']) {
      writeFileSync(join(dir, name), '');
    }
    expect(newestRelease(dir)?.version).toBe('0.10.0');
  });
});
