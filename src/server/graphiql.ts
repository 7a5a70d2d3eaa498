/**
 * GraphiQL on `GET /graphql`, served whole from the installed `@graphql-yoga/render-graphiql`
 * (React, Monaco and its workers inlined in one page) rather than yoga's default, which loads them
 * from a public CDN: the page works offline and asks no other host for anything. A
 * Content-Security-Policy keeps it that way: scripts are the page's own inline bundle (allowed by
 * its hash), requests go to this server only, and no other site may frame it.
 */
import { createHash } from 'node:crypto';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/** What GraphiQL shows on a first visit (a later one restores the user's own tabs). */
export const GRAPHIQL_DEFAULT_QUERY = `# Every operation runs as the Matrix user whose
# access token it carries. Open "Headers" (below)
# and paste, with your token:
#
#   { "Authorization": "Bearer <access token>" }
#
# (\`npm run demo\` prints one.) Then run this with ▶
# or Ctrl-Enter. Subscriptions run here too, each
# new event shown as it arrives:
#
#   subscription {
#     roomEvents(roomId: "!…") {
#       event {
#         type
#         ... on MessageEvent { body }
#       }
#     }
#   }

query ViewerAndRooms {
  viewer {
    userId
    user {
      displayName
    }
  }
  rooms(first: 10) {
    edges {
      node {
        id
        name
        topic
        joinedMemberCount
        messages(last: 3) {
          edges {
            node {
              type
              sender {
                id
              }
              originServerTs
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

/** The pieces yoga takes: its `graphiql` options, its `renderGraphiQL`, and a plugin. */
export interface GraphiQLPage {
  readonly options: GraphiQLOptions;
  /** Renders the page (the same options give the same page, built once). */
  readonly render: (options: GraphiQLOptions) => Promise<string>;
  /** Sends the page's Content-Security-Policy with it. */
  readonly plugin: Plugin;
}

export interface GraphiQLPageOptions {
  /**
   * The header the server's CSRF prevention asks of requests a browser could send without a
   * preflight. GraphiQL, a page of this very server, sends it with every request: its
   * subscriptions are `GET`s (Server-Sent Events), which would be refused without it.
   */
  csrfHeader: string;
}

/**
 * GraphiQL's options (title, the example operation, the CSRF header), its renderer and the plugin
 * that sends its Content-Security-Policy, for one yoga instance.
 */
export function createGraphiQLPage({ csrfHeader }: GraphiQLPageOptions): GraphiQLPage {
  let page: { key: string; html: string; policy: string } | undefined;
  const render = async (options: GraphiQLOptions): Promise<string> => {
    const key = JSON.stringify(options);
    if (page?.key !== key) {
      // A 9 MB module, loaded on the first visit rather than at start-up (a server that nobody
      // opens GraphiQL on would hold some 40 MB more for it), and the page built once.
      const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
      const html = renderGraphiQL(options);
      page = { key, html, policy: contentSecurityPolicy(html) };
    }
    return page.html;
  };
  return {
    options: {
      title: 'Matrix GraphQL facade',
      defaultQuery: GRAPHIQL_DEFAULT_QUERY,
      // A token pasted into the headers editor stays in this tab, not in the browser's storage.
      shouldPersistHeaders: false,
      additionalHeaders: { [csrfHeader]: 'graphiql' },
    },
    render,
    plugin: {
      onResponse({ response }) {
        // yoga answers with the rendered page just before this hook, as `text/html`; nothing
        // else the facade serves is HTML.
        if (page !== undefined && response.headers.get('content-type') === 'text/html') {
          response.headers.set('content-security-policy', page.policy);
          response.headers.set('x-content-type-options', 'nosniff');
          response.headers.set('referrer-policy', 'no-referrer');
        }
      },
    },
  };
}

/**
 * The page's policy. The bundle is one inline script: allowed by its SHA-256, which is why the
 * policy is computed from the page itself. What else it needs, as measured in Chromium (the
 * browser test fails on any violation): inline styles (Monaco writes `<style>` elements and style
 * attributes), `data:` fonts and images (the stylesheet inlines them), workers from `blob:` URLs
 * (Monaco's language workers are built from strings), and requests to this server (queries,
 * introspection, SSE subscriptions). No `unsafe-eval`: nothing in the bundle needs it.
 */
export function contentSecurityPolicy(html: string): string {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    ([, script]) =>
      `'sha256-${createHash('sha256')
        .update(script ?? '')
        .digest('base64')}'`,
  );
  return [
    "default-src 'none'",
    `script-src 'self' ${scripts.join(' ')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    'worker-src blob:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
