import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRecipientCsv, RecipientCsvError } from '../../src/client/csv';
import { campaignIdFor, campaignMessageId, messageIdFor } from '../../src/client/request';
import { isMessageId } from '../../src/domain/message-id';
import { isPlausibleNumber } from '../../src/domain/phone';

describe('campaign ids', () => {
  test('a campaign reference names one campaign per account; without one every campaign is new', () => {
    assert.equal(campaignIdFor('acme', 'spring'), campaignIdFor('acme', 'spring'));
    assert.notEqual(campaignIdFor('acme', 'spring'), campaignIdFor('other', 'spring'));
    assert.notEqual(campaignIdFor('acme', undefined), campaignIdFor('acme', undefined));
    // A campaign's id is never a message's, so `GET /v1/messages/:id` cannot mistake one for the other.
    assert.notEqual(campaignIdFor('acme', 'spring'), messageIdFor('acme', 'spring'));
    assert.ok(isMessageId(campaignIdFor('acme', 'spring')));
  });

  test("a recipient's message id comes from the campaign and its position, or from its own reference", () => {
    const campaign = campaignIdFor('acme', 'spring');
    const ids = Array.from({ length: 1000 }, (_, position) => campaignMessageId('acme', campaign, position, undefined));
    assert.equal(new Set(ids).size, 1000);
    assert.ok(ids.every(isMessageId));
    assert.equal(campaignMessageId('acme', campaign, 7, undefined), ids[7]);
    assert.notEqual(campaignMessageId('acme', campaignIdFor('acme', 'autumn'), 7, undefined), ids[7]);
    assert.equal(campaignMessageId('acme', campaign, 7, 'order-7'), messageIdFor('acme', 'order-7'));
  });
});

describe('recipient CSV', () => {
  test('numbers or to,clientRef lines, with a header, comments, blank lines and quotes; lines are counted from 1', () => {
    const rows = parseRecipientCsv('to,clientRef\r\n+4520123456\n\n# note\n"+4520123457","r-2"\n +4520123458 ,\n');
    assert.deepEqual(rows, [
      { to: '+4520123456', line: 2 },
      { to: '+4520123457', clientRef: 'r-2', line: 5 },
      { to: '+4520123458', line: 6 },
    ]);
  });

  test('a line with three cells or an open quote is refused, naming the line', () => {
    for (const [source, line] of [
      ['+4520123456\n+4520123457,a,b\n', 2],
      ['+4520123456\n\n"+4520123457\n', 3],
    ] as const) {
      assert.throws(() => parseRecipientCsv(source), (error: unknown) => error instanceof RecipientCsvError && error.line === line);
    }
  });
});

test('a plausible number has digits and the usual punctuation only, 7 to 17 digits', () => {
  for (const number of ['+4520123456', '004520123456', '4520123456', '+1 (415) 555-0100', '+44.7700.900123']) assert.ok(isPlausibleNumber(number), number);
  for (const number of ['', 'hello', '+45 2012 345x', '123456', '+123456789012345678', '+4520123456;', '++4520123456']) assert.equal(isPlausibleNumber(number), false, number);
});
