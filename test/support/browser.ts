/**
 * Debian's Chromium (`/usr/bin/chromium`, installed by test/browser/global-setup.ts), driven by
 * playwright-core: headless, with a fresh profile, and without the background traffic (updates,
 * sync, field trials) that a closed network would only refuse. Also how tests drive GraphiQL.
 */
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Launches Chromium; playwright gives it a fresh temporary profile and removes it on close. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Whether `url` stays on this machine (`data:` and `blob:` URLs never leave the page). */
export function isLoopback(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') {
    return true;
  }
  return ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
}

/**
 * GraphiQL (the version @graphql-yoga/render-graphiql ships: GraphiQL 5, whose editors are
 * Monaco) as a test sees it: set the operation and the headers, run, read the result pane.
 */
export class GraphiQL {
  readonly page: Page;

  constructor(page: Page) {
    this.page = page;
  }

  /** Resolves once the operation editor is on screen. */
  async ready(): Promise<void> {
    await this.page.locator('.graphiql-query-editor .monaco-editor .view-lines').waitFor();
  }

  /**
   * Replaces the operation editor's text with `operation`, which must be named: GraphiQL runs the
   * operation it has parsed last (after a short delay), and shows its name on the tab once it has.
   */
  async setOperation(operation: string): Promise<void> {
    const name = /^\s*(?:query|mutation|subscription)\s+(\w+)/.exec(operation)?.[1];
    if (name === undefined) {
      throw new Error(`give the operation a name, to know when GraphiQL has read it: ${operation}`);
    }
    await this.replaceText(this.page.locator('.graphiql-query-editor .monaco-editor'), operation);
    await this.page.locator('.graphiql-tab-active', { hasText: name }).waitFor();
  }

  /** Opens the "Headers" tab and replaces its text with `headers` as JSON. */
  async setHeaders(headers: Record<string, string>): Promise<void> {
    await this.page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
    await this.replaceText(
      this.page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .monaco-editor'),
      JSON.stringify(headers),
    );
  }

  /** Clicks the prettify button: the operation laid out on several lines (for screenshots). */
  async prettify(): Promise<void> {
    await this.page.locator('.graphiql-toolbar button[aria-label^="Prettify"]').click();
  }

  /** Clicks ▶ (for a subscription: starts it; the result pane then shows its latest event). */
  async run(): Promise<void> {
    await this.page.locator('.graphiql-execute-button').click();
  }

  /** The result pane's text as shown (Monaco draws spaces as no-break spaces). */
  async resultText(): Promise<string> {
    const text = await this.page.locator('.graphiql-response .view-lines').textContent();
    return (text ?? '').replaceAll('\u00a0', ' ');
  }

  /** Resolves once the result pane shows `text`; on timeout, fails with what it shows. */
  async waitForResult(text: string, timeoutMs = 20_000): Promise<void> {
    try {
      await this.page.waitForFunction(
        (expected) =>
          document
            .querySelector('.graphiql-response .view-lines')
            ?.textContent?.replaceAll('\u00a0', ' ')
            .includes(expected) ?? false,
        text,
        { timeout: timeoutMs, polling: 100 },
      );
    } catch (error) {
      throw new Error(
        `the result pane did not show ${JSON.stringify(text)} within ${timeoutMs} ms; it shows:\n${await this.resultText()}`,
        { cause: error },
      );
    }
  }

  /**
   * Select-all and one insertion, as a paste: typed key by key, Monaco would add closing
   * brackets and quotes of its own.
   */
  private async replaceText(editor: ReturnType<Page['locator']>, text: string): Promise<void> {
    await editor.click();
    await this.page.keyboard.press('ControlOrMeta+A');
    await this.page.keyboard.press('Delete');
    await this.page.keyboard.insertText(text);
  }
}
