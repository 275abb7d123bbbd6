import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidPhoneNumberError, normaliseDestination } from '../../src/domain/phone';

const valid: { input: string; e164: string; country: string }[] = [
  { input: '+4520123456', e164: '+4520123456', country: 'DK' },
  { input: '+45 20 12 34 56', e164: '+4520123456', country: 'DK' },
  { input: '004520123456', e164: '+4520123456', country: 'DK' },
  { input: '4520123456', e164: '+4520123456', country: 'DK' },
  { input: '+44 7400 123456', e164: '+447400123456', country: 'GB' },
  { input: '+1 (415) 555-2671', e164: '+14155552671', country: 'US' },
];

for (const { input, e164, country } of valid) {
  test(`"${input}" normalises to ${e164} in ${country}`, () => {
    assert.deepEqual(normaliseDestination(input), { e164, country });
  });
}

for (const input of ['', '+12', 'hello', '020 1234 5678', '+45 1234', '+999 1234567']) {
  test(`"${input}" is rejected`, () => {
    assert.throws(() => normaliseDestination(input), InvalidPhoneNumberError);
  });
}
