import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SuppressionList } from '../../src/inbound/suppression';
import { createTestDatabase, type TestDatabase } from '../support/database';

let database: TestDatabase;

before(async () => {
  database = await createTestDatabase('suppression');
  await database.db.account.createMany({ data: [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }] });
});

after(async () => {
  await database?.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('suppression list', () => {
  test('an added pair is suppressed for that account only, until removed', async () => {
    const list = new SuppressionList(database.db);
    assert.equal(await list.isSuppressed('a', '+447700900001'), false);
    await list.add('a', '+447700900001', 'opt_out', 'sim:1');
    assert.equal(await list.isSuppressed('a', '+447700900001'), true);
    assert.equal(await list.isSuppressed('b', '+447700900001'), false);
    assert.equal(await list.remove('a', '+447700900001'), true);
    assert.equal(await list.isSuppressed('a', '+447700900001'), false);
    assert.equal(await list.remove('a', '+447700900001'), false);
  });

  test('adding twice keeps the first reason', async () => {
    const list = new SuppressionList(database.db);
    await list.add('a', '+447700900002', 'opt_out', 'sim:2');
    await list.add('a', '+447700900002', 'manual', 'admin');
    const [entry, ...rest] = await list.list('a', { number: '+447700900002', limit: 10 });
    assert.equal(rest.length, 0);
    assert.equal(entry?.reason, 'opt_out');
    assert.equal(entry?.source, 'sim:2');
  });

  test("another process's change is seen once its cached verdict expires", async () => {
    const sender = new SuppressionList(database.db, 300);
    const inbound = new SuppressionList(database.db, 300);
    assert.equal(await sender.isSuppressed('b', '+447700900003'), false);
    await inbound.add('b', '+447700900003', 'opt_out', 'sim:3');
    await sleep(350);
    assert.equal(await sender.isSuppressed('b', '+447700900003'), true);
    await inbound.remove('b', '+447700900003');
    await sleep(350);
    assert.equal(await sender.isSuppressed('b', '+447700900003'), false);
  });
});
