import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MESSAGE_STATUSES, isFinalReportStatus, isFinalStatus } from '../../src/domain/status';
import { MessageStatus } from '../../src/generated/prisma/enums';

test('the domain statuses are exactly the MessageStatus enum of the schema, in order', () => {
  assert.deepEqual([...MESSAGE_STATUSES], Object.values(MessageStatus));
});

test('final statuses end a message; intermediate ones do not', () => {
  for (const status of ['delivered', 'undelivered', 'rejected', 'expired', 'failed', 'unknown', 'cancelled'] as const) {
    assert.equal(isFinalStatus(status), true, status);
  }
  for (const status of ['accepted', 'scheduled', 'routed', 'submitted', 'attempt_failed', 'enroute', 'buffered'] as const) {
    assert.equal(isFinalStatus(status), false, status);
  }
  assert.equal(isFinalReportStatus('buffered'), false);
  assert.equal(isFinalReportStatus('enroute'), false);
  assert.equal(isFinalReportStatus('undelivered'), true);
});
