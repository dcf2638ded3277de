// Start-up configuration: provider defaults and the errors that name the variable.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('provider configuration', () => {
  it('defaults to the local engine without a Segmind key, to Segmind with one', () => {
    expect(loadConfig({}).providers.default).toBe('local');
    expect(loadConfig({ SEGMIND_API_KEY: 'sk-1' }).providers.default).toBe('segmind');
    expect(loadConfig({ SEGMIND_API_KEY: 'sk-1', SWAPYARD_PROVIDER: 'local' }).providers.default).toBe('local');
    expect(loadConfig({ LOCAL_FETCH_ALLOW_HOSTS: ' cdn.internal:8080 , 10.0.0.7:443,[::1]:80,' }).providers.localFetchAllowHosts).toEqual([
      { host: 'cdn.internal', port: 8080 },
      { host: '10.0.0.7', port: 443 },
      { host: '::1', port: 80 },
    ]);
  });

  it('refuses unknown providers and bad thread counts, naming the variable', () => {
    expect(() => loadConfig({ SWAPYARD_PROVIDER: 'gpu' })).toThrow(/SWAPYARD_PROVIDER must be one of segmind, local, got "gpu"/);
    expect(() => loadConfig({ LOCAL_ENGINE_THREADS: '-1' })).toThrow(/LOCAL_ENGINE_THREADS must be an integer ≥ 0/);
    expect(() => loadConfig({ UPSTREAM_CREDIT_READINGS: 'maybe' })).toThrow(/UPSTREAM_CREDIT_READINGS must be true or false/);
    expect(() => loadConfig({ PRICES: '[]' })).toThrow(/PRICES must be a JSON object/);
    // A bare host would open every port of it: each entry names its port.
    expect(() => loadConfig({ LOCAL_FETCH_ALLOW_HOSTS: '127.0.0.1' })).toThrow(
      'LOCAL_FETCH_ALLOW_HOSTS: "127.0.0.1" must be host:port, e.g. 127.0.0.1:8080, images.internal:443 or [::1]:8080 (a port is required)',
    );
    expect(() => loadConfig({ LOCAL_FETCH_ALLOW_HOSTS: 'cdn.internal:8080,10.0.0.7' })).toThrow(/LOCAL_FETCH_ALLOW_HOSTS: "10\.0\.0\.7" must be host:port/);
  });
});
