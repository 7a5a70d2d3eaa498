/** Configures the Pothos schema builder; defines no types (those live in one file per domain). */
import SchemaBuilder from '@pothos/core';
import type { MatrixClient } from '../matrix/http.ts';

/** What every resolver receives. Built per request by the server (`src/server/context.ts`). */
export interface Context {
  /**
   * The upstream client acting as the caller, or `null` when the request carried no bearer
   * token. Resolvers reach it through `viewerClient(ctx)`, which turns `null` into an
   * `UNAUTHENTICATED` error before any upstream call.
   */
  readonly matrix: MatrixClient | null;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  // Non-null unless a field says otherwise: clients generated from the schema then get the
  // guarantees the data really has.
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

builder.queryType({});
