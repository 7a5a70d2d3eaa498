/**
 * GraphQL Code Generator: typed documents (client preset) for the operations the tests send,
 * generated from the committed schema.graphql, so a test operation that no longer fits the
 * schema fails the build.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  // test/fixtures/ holds client apps with their own generators (Relay, a client-preset app).
  documents: ['test/**/*.ts', '!test/generated/**', '!test/fixtures/**'],
  ignoreNoDocuments: false,
  generates: {
    'test/generated/': {
      preset: 'client',
      config: {
        useTypeImports: true,
        importExtension: '.ts',
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { DateTime: 'string', JSON: 'Record<string, unknown>' },
      },
      presetConfig: {
        fragmentMasking: false,
        // test/generated/persisted-documents.json: the trusted-documents manifest of every test
        // operation (ID = SHA-256 of the document), which TRUSTED_DOCUMENTS loads.
        persistedDocuments: { hashAlgorithm: 'sha256' },
      },
    },
  },
};

export default config;
