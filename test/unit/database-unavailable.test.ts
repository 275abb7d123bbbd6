import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandling } from '../../src/api/server';
import { Client, DatabaseError } from 'pg';
import { createDatabase, executeStatement, type Database } from '../../src/db/client';
import { Prisma } from '../../src/generated/prisma/client';
import { isDatabaseUnavailable } from '../../src/db/unavailable';
import { createTestDatabase } from '../support/database';
import { freePort } from '../support/stack';

/** A client of a PostgreSQL that is not there: its errors are the real ones of an outage. */
let db: Database;
let app: FastifyInstance;

before(async () => {
  db = createDatabase(`postgresql://postgres@127.0.0.1:${await freePort()}/nowhere`);
  app = Fastify();
  installErrorHandling(app);
  app.get('/read', async () => db.account.count());
  app.get('/refused', async () => {
    // A query PostgreSQL refuses is not an outage.
    throw Object.assign(new Error('duplicate key'), { code: 'P2002' });
  });
  await app.ready();
});

after(async () => {
  await app.close();
  await db.$disconnect();
});

test('an unreachable database is recognised, a refused query is not', async () => {
  const outage = await db.account.count().then(
    () => assert.fail('no database answers'),
    (error: unknown) => error,
  );
  assert.equal(isDatabaseUnavailable(outage), true);
  assert.equal(isDatabaseUnavailable(Object.assign(new Error('Connection terminated unexpectedly'), {})), true);
  assert.equal(isDatabaseUnavailable({ kind: 'postgres', code: '57P01', message: 'terminating connection due to administrator command' }), true);
  assert.equal(isDatabaseUnavailable(Object.assign(new Error('Unique constraint failed'), { code: 'P2002' })), false);
  assert.equal(isDatabaseUnavailable({ kind: 'postgres', code: '23505' }), false);
  assert.equal(isDatabaseUnavailable(new Error('boom')), false);
});

test('so is an outage met by a statement sent past Prisma, straight to node-postgres', async () => {
  const outage = await executeStatement(db, Prisma.sql`SELECT ${1}`).then(
    () => assert.fail('no database answers'),
    (error: unknown) => error,
  );
  assert.equal(isDatabaseUnavailable(outage), true);
  // node-postgres's own errors for a server starting up and one out of connections (read by their
  // SQLSTATE: their words are not the lost-connection ones), and for a refused statement.
  const startingUp = Object.assign(new DatabaseError('the database system is starting up', 100, 'error'), { code: '57P03' });
  assert.equal(isDatabaseUnavailable(startingUp), true);
  const full = Object.assign(new DatabaseError('sorry, too many clients already', 100, 'error'), { code: '53300' });
  assert.equal(isDatabaseUnavailable(full), true);
  assert.equal(isDatabaseUnavailable(Object.assign(new DatabaseError('duplicate key value violates unique constraint', 100, 'error'), { code: '23505' })), false);
});

test('a connection PostgreSQL drops while idle does not end the process, and the next statement gets a new one', async () => {
  const database = await createTestDatabase('idle_drop');
  try {
    // Only statements sent past Prisma: Prisma's own listener on the pool is not there yet.
    assert.equal(await executeStatement(database.db, Prisma.sql`SELECT ${1}`), 1);
    const admin = new Client({ connectionString: database.url });
    await admin.connect();
    const dropped = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    );
    await admin.end();
    assert.ok(dropped.rowCount && dropped.rowCount > 0, 'the idle connection was dropped');
    // The pool hears of it as an 'error' event; with nobody listening, this process would have ended.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await executeStatement(database.db, Prisma.sql`SELECT ${1}`), 1);
  } finally {
    await database.drop();
  }
});

test('a request the database cannot serve is a 503 with Retry-After, never a 500', async () => {
  const response = await app.inject({ method: 'GET', url: '/read' });
  assert.equal(response.statusCode, 503);
  assert.match(String(response.headers['retry-after']), /^\d+$/);
  assert.equal(response.json().error.code, 'database_unavailable');

  const refused = await app.inject({ method: 'GET', url: '/refused' });
  assert.equal(refused.statusCode, 500, 'any other failure stays what it was');
  assert.equal(refused.headers['retry-after'], undefined);
});
