import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { applyMigrations, DEFAULT_DATABASE_URL } from '../../scripts/migrate';
import { createDatabase, type Database } from '../../src/db/client';

/** The PostgreSQL server the tests use; each test file gets throwaway databases on it. */
export function serverUrl(): URL {
  const url = new URL(process.env.TEST_DATABASE_SERVER_URL ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
  url.search = '';
  return url;
}

/** A URL for a database that does not exist yet, named after its purpose, on `server` (default: the tests' server). */
export function throwawayDatabaseUrl(purpose: string, server: URL = serverUrl()): { name: string; url: string } {
  const name = `smsrouter_${purpose}_${randomBytes(4).toString('hex')}`;
  return { name, url: Object.assign(new URL(server), { pathname: `/${name}` }).toString() };
}

export async function dropDatabase(name: string, server: URL = serverUrl()): Promise<void> {
  const admin = new Client({ connectionString: Object.assign(new URL(server), { pathname: '/postgres' }).toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export interface TestDatabase {
  readonly url: string;
  readonly db: Database;
  drop(): Promise<void>;
}

/** A fresh database with every migration applied; `drop()` disconnects and removes it. */
export async function createTestDatabase(purpose: string): Promise<TestDatabase> {
  const { name, url } = throwawayDatabaseUrl(purpose);
  await applyMigrations(url, { log: () => undefined });
  const db = createDatabase(url);
  return {
    url,
    db,
    async drop() {
      await db.$disconnect();
      await dropDatabase(name);
    },
  };
}
