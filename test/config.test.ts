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

describe('operation and response limits', () => {
  it('have defaults, each replaced by its variable', () => {
    expect(loadConfig({}).operations).toEqual({ maxTokens: 2000, maxAliases: 30, maxDirectives: 50, maxDepth: 10, maxCost: 10_000 });
    expect(loadConfig({}).limits.maxResponseBytes).toBe(32 * 1024 * 1024);
    const set = loadConfig({
      MAX_QUERY_TOKENS: '500', MAX_QUERY_ALIASES: '0', MAX_QUERY_DIRECTIVES: '3', MAX_QUERY_DEPTH: '6', MAX_QUERY_COST: '2000', MAX_RESPONSE_BYTES: '4096',
    });
    expect(set.operations).toEqual({ maxTokens: 500, maxAliases: 0, maxDirectives: 3, maxDepth: 6, maxCost: 2000 });
    expect(set.limits.maxResponseBytes).toBe(4096);
  });

  it('refuse values that are no limit, naming the variable', () => {
    expect(() => loadConfig({ MAX_QUERY_DEPTH: '0' })).toThrow(/MAX_QUERY_DEPTH must be an integer ≥ 1/);
    expect(() => loadConfig({ MAX_QUERY_COST: 'lots' })).toThrow(/MAX_QUERY_COST must be an integer/);
    expect(() => loadConfig({ MAX_RESPONSE_BYTES: '10' })).toThrow(/MAX_RESPONSE_BYTES must be an integer ≥ 1024/);
  });
});

describe('per-key limits', () => {
  it('default to 100 requests a second counted in memory, 50 connections per key and 100 operations per connection; 0 turns one off', () => {
    expect(loadConfig({}).keyLimits).toEqual({ requestsPerSecond: 100, rateLimitStore: 'memory', socketsPerKey: 50, subscriptionsPerSocket: 100 });
    expect(loadConfig({
      API_KEY_REQUESTS_PER_SECOND: '0', API_KEY_RATE_LIMIT_STORE: 'postgres', API_KEY_MAX_SOCKETS: '3', WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '7',
    }).keyLimits).toEqual({ requestsPerSecond: 0, rateLimitStore: 'postgres', socketsPerKey: 3, subscriptionsPerSocket: 7 });
  });

  it('refuses bad values, naming the variable', () => {
    expect(() => loadConfig({ API_KEY_REQUESTS_PER_SECOND: '2.5' })).toThrow(/API_KEY_REQUESTS_PER_SECOND must be an integer ≥ 0, got "2.5"/);
    expect(() => loadConfig({ API_KEY_MAX_SOCKETS: '-1' })).toThrow(/API_KEY_MAX_SOCKETS must be an integer ≥ 0/);
    expect(() => loadConfig({ WS_MAX_SUBSCRIPTIONS_PER_SOCKET: 'many' })).toThrow(/WS_MAX_SUBSCRIPTIONS_PER_SOCKET must be an integer ≥ 0/);
    expect(() => loadConfig({ API_KEY_RATE_LIMIT_STORE: 'redis' })).toThrow(/API_KEY_RATE_LIMIT_STORE must be one of memory, postgres, got "redis"/);
  });
});

describe('artifact store', () => {
  it('defaults to the local folder; S3 settings with their defaults', () => {
    expect(loadConfig({}).artifacts).toEqual({ store: 'local', s3: null });
    expect(loadConfig({ ARTIFACT_STORE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 's' }).artifacts).toEqual({
      store: 's3',
      s3: { bucket: 'b', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true, accessKeyId: 'a', secretAccessKey: 's', connectTimeoutMs: 5000, requestTimeoutMs: 30000 },
    });
    // AWS itself: virtual-hosted URLs and the SDK's own credentials.
    expect(loadConfig({ ARTIFACT_STORE: 's3', S3_BUCKET: 'b', S3_REGION: 'eu-west-1' }).artifacts.s3).toMatchObject({ endpoint: null, region: 'eu-west-1', forcePathStyle: false, accessKeyId: null });
  });

  it('refuses unknown stores, s3 without a bucket, bad endpoints and half credentials, naming the variable', () => {
    expect(() => loadConfig({ ARTIFACT_STORE: 'nfs' })).toThrow('ARTIFACT_STORE must be one of local, postgres, s3, got "nfs"');
    expect(() => loadConfig({ ARTIFACT_STORE: 's3' })).toThrow(/ARTIFACT_STORE=s3 needs S3_BUCKET/);
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_ENDPOINT: 'ftp://host' })).toThrow(/S3_ENDPOINT must be an http\(s\) URL without credentials/);
    // The message never repeats credentials written into the URL.
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_ENDPOINT: 'http://key:secret@host:9000' })).toThrow('S3_ENDPOINT must be an http(s) URL without credentials, such as http://127.0.0.1:9000, got "http://…@host:9000"');
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'a' })).toThrow(/S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together/);
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'sometimes' })).toThrow(/S3_FORCE_PATH_STYLE must be true or false/);
  });
});
