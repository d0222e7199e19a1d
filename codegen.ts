import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the operations the tests (and example clients) send, and their trusted-documents
 * manifest (test/generated/persisted-documents.json, hash -> document) for TRUSTED_DOCUMENTS_FILE.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/operations/**/*.graphql'],
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
      config: {
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
        // Relative imports with .js, as Node's ES module resolution requires.
        emitLegacyCommonJSImports: false,
      },
    },
  },
  ignoreNoDocuments: false,
};

export default config;
