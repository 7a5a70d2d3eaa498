/**
 * The breaking-change guard: which breaking changes between the last released schema and the
 * current one CHANGELOG.md's Unreleased section does not name yet.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Change, CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

/** A released schema, `docs/schema-releases/<version>.graphql`. */
export interface SchemaRelease {
  readonly version: string;
  readonly file: string;
}

/** A breaking change, by the path CHANGELOG.md names it with (every message for that path). */
export interface BreakingChange {
  /** `Type`, `Type.field`, `Type.field.argument`, `EnumType.VALUE`, or the change type when the change has no path. */
  readonly path: string;
  readonly messages: readonly string[];
}

const releaseFileName = /^(\d+)\.(\d+)\.(\d+)\.graphql$/;

/** The newest release in `dir` by semantic version; `null` when there is none. */
export function newestRelease(dir: string): SchemaRelease | null {
  const releases = readdirSync(dir).flatMap((name) => {
    const match = releaseFileName.exec(name);
    return match === null ? [] : [{ name, parts: match.slice(1, 4).map(Number) }];
  });
  releases.sort((a, b) => compareVersions(b.parts, a.parts));
  const newest = releases[0];
  return newest === undefined
    ? null
    : { version: newest.parts.join('.'), file: join(dir, newest.name) };
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) {
      return difference;
    }
  }
  return 0;
}

/** The breaking changes from `releasedSdl` to `currentSdl`, one entry per path, sorted by path. */
export async function breakingChanges(
  releasedSdl: string,
  currentSdl: string,
): Promise<BreakingChange[]> {
  const changes: Change[] = await diff(buildSchema(releasedSdl), buildSchema(currentSdl));
  const byPath = new Map<string, string[]>();
  for (const change of changes) {
    if (change.criticality.level !== CriticalityLevel.Breaking) {
      continue;
    }
    const path = change.path ?? change.type;
    byPath.set(path, [...(byPath.get(path) ?? []), change.message]);
  }
  return [...byPath]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, messages]) => ({ path, messages }));
}

/**
 * The text of the `## [Unreleased]` section, without HTML comments (so instructions left there
 * for the schema authors never count as mentions). Throws when the section is missing.
 */
export function unreleasedSection(changelog: string): string {
  const start = /^## \[Unreleased\][^\n]*$/m.exec(changelog);
  if (start === null) {
    throw new Error('CHANGELOG.md has no "## [Unreleased]" section');
  }
  const rest = changelog.slice(start.index + start[0].length);
  const end = /^## /m.exec(rest);
  const section = end === null ? rest : rest.slice(0, end.index);
  return section.replace(/<!--[\s\S]*?-->/g, '');
}

/** Every string in backticks in `markdown`. */
export function backtickedNames(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/`([^`\n]+)`/g)].map((match) => match[1] ?? ''));
}

/** The breaking changes whose path the changelog's Unreleased section does not name in backticks. */
export function unlistedBreakingChanges(
  changes: readonly BreakingChange[],
  changelog: string,
): BreakingChange[] {
  const named = backtickedNames(unreleasedSection(changelog));
  return changes.filter((change) => !named.has(change.path));
}
