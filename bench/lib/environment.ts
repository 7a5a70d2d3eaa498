/** What a bench run records about where it ran: the homeserver's and Redis's versions, the commit. */
import { execFileSync } from 'node:child_process';

/** The Synapse version behind `url` (its admin `server_version`), or 'unknown'. */
export async function synapseVersion(url: string): Promise<string> {
  try {
    const response = await fetch(`${url}/_synapse/admin/v1/server_version`);
    const body = (await response.json()) as { server_version?: string };
    return body.server_version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The version of the `redis-server` on the PATH, or 'unknown'. */
export function redisVersion(): string {
  try {
    const text = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    return /v=(\S+)/.exec(text)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The short HEAD of the repository at `root`, marked '(modified)' with tracked changes, or 'unknown'. */
export function commit(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    });
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
    });
    return `${head.trim()}${dirty.trim() ? ' (modified)' : ''}`;
  } catch {
    return 'unknown';
  }
}
