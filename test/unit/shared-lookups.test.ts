import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { SubmitQuota } from '../../src/accounts/quota';
import { ApiKeyAuthenticator } from '../../src/api/auth';
import type { Database } from '../../src/db/client';

const CONCURRENT_REQUESTS = 32;

/** A database whose account look-ups are counted, each answering on the next turn of the event loop. */
function countingDatabase(): { db: Database; lookups: () => number } {
  let lookups = 0;
  const answer = async <T>(row: T): Promise<T> => {
    lookups += 1;
    await new Promise((resolve) => setImmediate(resolve));
    return row;
  };
  const db = {
    apiKey: { findUnique: () => answer({ accountId: 'acme', revokedAt: null, account: { disabledAt: null } }) },
    account: { findUnique: () => answer({ maxMessagesPerSecond: null, dailyMessageCap: null }) },
  } as unknown as Database;
  return { db, lookups: () => lookups };
}

const request = { headers: { authorization: 'Bearer sk_test_shared' } } as FastifyRequest;

test('requests that find the API key verdict missing or expired at once share one database look-up', async () => {
  const database = countingDatabase();
  const auth = new ApiKeyAuthenticator(database.db, 0);
  const accounts = await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, () => auth.accountFor(request)));
  assert.deepEqual(new Set(accounts), new Set(['acme']));
  assert.equal(database.lookups(), 1);
  // Expired (cacheMs 0): the next wave asks again, once.
  await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, () => auth.accountFor(request)));
  assert.equal(database.lookups(), 2);
});

test("submits that find the account's limits missing or expired at once share one database look-up", async () => {
  const database = countingDatabase();
  const quota = new SubmitQuota(database.db, 0);
  await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, () => quota.admit('acme', 1)));
  assert.equal(database.lookups(), 1);
  await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, () => quota.admit('acme', 1)));
  assert.equal(database.lookups(), 2);
});
