import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed documents for the operations the tests (and example clients) send. */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/operations/**/*.graphql'],
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
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
