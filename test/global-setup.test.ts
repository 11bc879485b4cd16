import { describe, expect, it } from 'vitest';
import { redact, sourcesLine } from './support/global-setup.js';

describe('the line a test run starts with', () => {
  it('names the database and Redis it uses and where each came from', () => {
    expect(
      sourcesLine(
        { url: 'postgres://postgres@127.0.0.1:5432/test', from: 'local default' },
        { url: 'redis://localhost:32768', from: 'testcontainers' },
      ),
    ).toBe(
      'agentkey tests: PostgreSQL postgres://postgres@127.0.0.1:5432/test (local default), Redis redis://localhost:32768 (testcontainers)',
    );
  });

  it('never prints a password, in the authority or in the query', () => {
    const line = sourcesLine(
      {
        url: 'postgres://app:s3cret@db.internal:5432/ci?sslmode=require&password=s3cret',
        from: 'DATABASE_URL',
      },
      { url: 'redis://:s3cret@cache:6379/0', from: 'REDIS_URL' },
    );
    expect(line).toBe(
      'agentkey tests: PostgreSQL postgres://app:***@db.internal:5432/ci (DATABASE_URL), Redis redis://:***@cache:6379/0 (REDIS_URL)',
    );
    expect(redact('postgres://u@h/db')).toBe('postgres://u@h/db');
  });
});
