/**
 * Trusted documents (persisted operations): the operations the operator's own clients were built
 * with, in the manifest GraphQL Code Generator's client preset writes (`persistedDocuments` in
 * codegen.ts): `{ "sha256:<hex>": "<document>" }`. A client sends the ID in
 * `extensions.persistedQuery.sha256Hash` (the shape Apollo's and yoga's clients use) instead of
 * the text; with `only`, the server runs nothing else, so an exposed instance answers only what
 * its clients were built to ask. Over HTTP yoga's persisted-operations plugin applies it; graphql-ws
 * operations pass through {@link TrustedDocuments.resolve} (src/server/ws.ts), with the same
 * errors.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { z } from 'zod';
import { ConfigError } from '../config.ts';

/** What a request carries where a document could be: its text, or the ID of a trusted one. */
interface DocumentParams {
  query?: string | null | undefined;
  extensions?: Record<string, unknown> | null | undefined;
}

const manifestSchema = z.record(z.string(), z.string());

/** An ID as the manifest or a client writes it: bare hex, or prefixed with `sha256:`. */
const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/;

export class TrustedDocuments {
  /** Refuse every operation sent as text. */
  readonly only: boolean;
  /** Document text by bare hex ID. */
  readonly #documents: ReadonlyMap<string, string>;

  constructor(documents: ReadonlyMap<string, string>, only: boolean) {
    this.#documents = documents;
    this.only = only;
  }

  /**
   * Reads the manifest at `path`. Each ID must be the SHA-256 of its document: a manifest that
   * does not match its documents (hand-edited, another hash) fails the start (a ConfigError, as
   * any other bad setting), not a request later.
   */
  static load(path: string, only: boolean): TrustedDocuments {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConfigError(
        `TRUSTED_DOCUMENTS: cannot read ${path} as JSON: ${(error as Error).message}`,
      );
    }
    const manifest = manifestSchema.safeParse(parsed);
    if (!manifest.success) {
      throw new ConfigError(
        `TRUSTED_DOCUMENTS: ${path} must map document IDs to document texts, as GraphQL Code Generator's persisted-documents.json does`,
      );
    }
    const documents = new Map<string, string>();
    for (const [id, text] of Object.entries(manifest.data)) {
      const hex = DOCUMENT_ID.exec(id)?.[1];
      if (hex === undefined || hex !== createHash('sha256').update(text).digest('hex')) {
        throw new ConfigError(
          `TRUSTED_DOCUMENTS: in ${path}, ${JSON.stringify(id)} is not the SHA-256 of its document`,
        );
      }
      documents.set(hex, text);
    }
    return new TrustedDocuments(documents, only);
  }

  /** The yoga plugin that applies the manifest to HTTP requests. */
  plugin(): Plugin {
    return usePersistedOperations({
      getPersistedOperation: (id) => this.#documents.get(id) ?? null,
      extractPersistedOperationId: (params) => requestedId(params),
      allowArbitraryOperations: !this.only,
      // 400, as yoga answers a request without a query; over graphql-ws there is no status.
      customErrors: {
        notFound: () => withStatus400(notFound()),
        persistedQueryOnly: () => withStatus400(textRefused()),
        keyNotFound: () => withStatus400(idRequired()),
      },
    });
  }

  /**
   * The document text a graphql-ws `subscribe` payload asks for, or the error HTTP would give:
   * its own text when it has one (refused with `only`), else the trusted document its ID names.
   * graphql-ws requires a `query` string, so a client sends `""` with the ID.
   */
  resolve(params: DocumentParams): string | GraphQLError {
    if (params.query) {
      return this.only ? textRefused() : params.query;
    }
    const id = requestedId(params);
    if (id === null) {
      return idRequired();
    }
    return this.#documents.get(id) ?? notFound();
  }
}

/** The bare hex ID in `extensions.persistedQuery.sha256Hash`, or `null` when there is none. */
function requestedId(params: DocumentParams): string | null {
  const persisted = params.extensions?.['persistedQuery'];
  if (typeof persisted !== 'object' || persisted === null) {
    return null;
  }
  const hash = (persisted as { sha256Hash?: unknown }).sha256Hash;
  return typeof hash === 'string' ? (DOCUMENT_ID.exec(hash)?.[1] ?? '') : null;
}

function notFound(): GraphQLError {
  return refusal(
    'PERSISTED_QUERY_NOT_FOUND',
    'No trusted document has this ID: send the SHA-256 of one of the documents this server was deployed with.',
  );
}

function textRefused(): GraphQLError {
  return refusal(
    'PERSISTED_QUERY_ONLY',
    'This server runs trusted documents only: send the document ID in extensions.persistedQuery.sha256Hash instead of its text.',
  );
}

function idRequired(): GraphQLError {
  return refusal(
    'PERSISTED_QUERY_ID_REQUIRED',
    'Send a document: its text in `query`, or a trusted document ID in extensions.persistedQuery.sha256Hash.',
  );
}

/** A refusal of the request itself, before parsing. */
function refusal(code: TrustedDocumentsErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

function withStatus400(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    extensions: { ...error.extensions, http: { status: 400 } },
  });
}

export type TrustedDocumentsErrorCode =
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PERSISTED_QUERY_ONLY'
  | 'PERSISTED_QUERY_ID_REQUIRED';
