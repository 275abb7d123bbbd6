import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidPhoneNumberError, normaliseInboundAddress } from '../../src/domain/phone';

// Inbound senders and our numbers as providers write them (PROVIDERS.md §5: Vonage digits without
// '+', GatewayAPI integers, Twilio E.164).
const cases: { input: string; expected: string }[] = [
  { input: '+14155550100', expected: '+14155550100' },
  { input: '447700900001', expected: '+447700900001' },
  { input: '00447700900001', expected: '+447700900001' },
  { input: '+44 7700 900001', expected: '+447700900001' },
  { input: '+1 (415) 555-0100', expected: '+14155550100' },
  { input: '4587654321', expected: '+4587654321' },
  { input: '451204', expected: '451204' },
  { input: '1204', expected: '1204' },
  { input: ' 898211 ', expected: '898211' },
];

for (const { input, expected } of cases) {
  test(`"${input}" is ${expected}`, () => assert.equal(normaliseInboundAddress(input), expected));
}

for (const input of ['', '12', 'Acme', 'whatsapp:+14155550100', '+1234567890123456', '+44 7700 9000x1']) {
  test(`"${input}" is refused`, () => assert.throws(() => normaliseInboundAddress(input), InvalidPhoneNumberError));
}
