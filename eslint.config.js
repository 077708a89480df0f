import neostandard from 'neostandard'

// The fastify organization's configuration: standard style for TypeScript,
// no dangling commas. `void promise` stays allowed as a statement (as
// ts-standard has it): it marks a promise deliberately left to run, whose
// errors are handled where it was made.
export default [
  ...neostandard({
    ts: true,
    ignores: ['dist', 'dist-bench', 'coverage', '.tap', 'test-artifacts', 'node_modules']
  }),
  {
    rules: {
      'comma-dangle': ['error', 'never'],
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
