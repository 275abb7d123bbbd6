import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CredentialsError, readCredentials } from '../../src/providers/credentials';

test('credentials come from the environment variable the reference names', () => {
  const env = { SMS_CREDS: '{"apiKey":"k","apiSecret":"s"}' };
  assert.deepEqual(readCredentials('SMS_CREDS', env), { apiKey: 'k', apiSecret: 's' });
  assert.deepEqual(readCredentials(null, env), {});
});

test('a changed value is read anew', () => {
  const env: Record<string, string> = { SMS_CREDS: '{"apiKey":"old"}' };
  assert.equal(readCredentials('SMS_CREDS', env).apiKey, 'old');
  env.SMS_CREDS = '{"apiKey":"new"}';
  assert.equal(readCredentials('SMS_CREDS', env).apiKey, 'new');
});

const broken: { label: string; env: Record<string, string>; message: RegExp }[] = [
  { label: 'unset', env: {}, message: /SMS_CREDS is not set/ },
  { label: 'not JSON', env: { SMS_CREDS: 'apiKey=k' }, message: /is not JSON/ },
  { label: 'not an object', env: { SMS_CREDS: '["k"]' }, message: /must hold a JSON object/ },
  { label: 'a field that is not a string', env: { SMS_CREDS: '{"apiKey":42}' }, message: /must be a string/ },
];
for (const { label, env, message } of broken) {
  test(`credentials ${label} are a CredentialsError that names the variable, never its value`, () => {
    assert.throws(() => readCredentials('SMS_CREDS', env), (error: unknown) => {
      assert.ok(error instanceof CredentialsError);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /apiKey=k|42/);
      return true;
    });
  });
}
