// The providers a job can run on, as the API names them.
import { builder } from './builder.js';

export const ProviderEnum = builder.enumType('Provider', {
  values: {
    SEGMIND: { value: 'segmind', description: "Segmind's API (SEGMIND_API_KEY), or its emulator on a keyless install: every model." },
    LOCAL: {
      value: 'local',
      description:
        "This machine's CPU: faceswap-v2, faceswap-v3-multifaceswap and faceswap-v4 with swapType FACE. Free, private, no key. "
        + 'Options it cannot honour are refused with UnsupportedOptionError.',
    },
  },
});
