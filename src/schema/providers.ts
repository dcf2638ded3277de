// The providers a job can run on, as the API names them.
import { MODELS } from '../models/registry.js';
import { builder } from './builder.js';

/** "a, b and c": what the local engine runs, from the specs' local mappings. */
function localModels(): string {
  const names = MODELS.flatMap((m) => (m.local.runs ? [m.local.summary ?? m.slug] : [])).sort();
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : (names[0] ?? 'no model');
}

export const ProviderEnum = builder.enumType('Provider', {
  values: {
    SEGMIND: { value: 'segmind', description: "Segmind's API (SEGMIND_API_KEY), or its emulator on a keyless install: every model." },
    LOCAL: {
      value: 'local',
      description:
        `This machine's CPU: ${localModels()}. Free, private, no key. `
        + 'Options it cannot honour are refused with UnsupportedOptionError.',
    },
  },
});
