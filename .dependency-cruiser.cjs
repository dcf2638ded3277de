// The import layers of src/ (docs/ARCHITECTURE.md, "Layers"). Imports run down
// the list, never up, and never in a circle; test/import-layers.test.ts runs
// this check as part of `npm test`.
const LAYERS = [
  { name: 'entry points', path: '^src/(main|worker-main|app)\\.ts$|^src/cli/|^src/emulator/main\\.ts$' },
  { name: 'server', path: '^src/server/' },
  { name: 'schema', path: '^src/schema/' },
  { name: 'resolvers', path: '^src/resolvers/' },
  { name: 'services', path: '^src/services/(?!providers/)' },
  { name: 'providers, engine, emulator', path: '^src/services/providers/|^src/engine/|^src/emulator/(?!main\\.ts$)' },
  { name: 'models, db, util, net, config', path: '^src/(models|db|util|net|config|generated)/|^src/config\\.ts$' },
];

const upward = [];
LAYERS.forEach((lower, i) => {
  const higher = LAYERS.slice(0, i).map((l) => `(${l.path})`).join('|');
  if (higher) {
    upward.push({
      name: `no-upward-from-${lower.name.replace(/[^a-z]+/g, '-')}`,
      comment: `${lower.name} must not import a layer above it`,
      severity: 'error',
      from: { path: lower.path },
      to: { path: higher },
    });
  }
});

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'no import circle, even within a layer',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-not-providers',
      comment: 'the local engine knows images, not the providers that call it',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/services/providers/' },
    },
    {
      name: 'emulator-stands-alone',
      comment: "the emulator stands for the vendor's API: it keeps its own copy of the contract, never the specs or providers",
      severity: 'error',
      from: { path: '^src/emulator/' },
      to: { path: '^src/(models|services|engine|schema|resolvers|server)/' },
    },
    {
      name: 'client-stands-alone',
      comment: 'the typed client ships to callers: it imports nothing of the server',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/(?!client/)' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    includeOnly: '^src/',
    exclude: { path: '^src/generated/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
