// A sixth model, defined here and nowhere else: imported before the app, it
// registers through the same registerModel the five built-in specs use.
import { registerModel } from '../../src/models/registry.js';
import type { ModelSpec } from '../../src/models/types.js';

declare module '../../src/models/types.js' {
  interface ModelKeys { TEST_SIXTH: true }
}

export const sixthModel: ModelSpec = {
  key: 'TEST_SIXTH',
  slug: 'test-sixth',
  graphqlName: 'TestSixth',
  description: 'A model defined in test code.',
  protocol: 'sync',
  endpoint: '/v1/test-sixth',
  params: [
    { kind: 'image', wire: 'face_image', name: 'faceImage', required: true, description: 'The face.' },
    { kind: 'int', wire: 'strength', name: 'strength', default: 5, min: 1, max: 9, description: 'How strongly.' },
  ],
  price: { price: '0.123', source: 'test' },
  local: { runs: false, reason: 'a test model' },
};

registerModel(sixthModel);
