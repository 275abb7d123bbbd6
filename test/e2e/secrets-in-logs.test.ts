// Secrets never appear in logs: the whole stack runs traffic that uses every kind of secret at
// LOG_LEVEL=debug in a child process, and every line it printed (stdout and stderr) is searched
// for each secret, as given and in the encodings a request carries it (Basic auth).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..');

interface UsedSecrets {
  apiKey: string;
  adminKey: string;
  callbackSecret: string;
  credentials: [string, string][];
  webhookTokens: string[];
  webhookSecrets: string[];
}

/** Credential fields that name rather than protect (an account SID, a hash algorithm). */
const NOT_SECRET = new Set(['accountSid', 'signatureMethod']);

test('no secret used by the traffic appears in any log line, at LOG_LEVEL=debug', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'smsrouter-secrets-'));
  const secretsFile = path.join(dir, 'secrets.json');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/traffic-with-secrets.ts'], {
      cwd: ROOT,
      env: { ...process.env, SECRETS_FILE: secretsFile, LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, `the traffic run failed:\n${output.slice(-4000)}`);

    const used = JSON.parse(readFileSync(secretsFile, 'utf8')) as UsedSecrets;
    const credentials = used.credentials.filter(([field]) => !NOT_SECRET.has(field));
    const byField = new Map(used.credentials);
    const secrets: [string, string][] = [
      ['API key', used.apiKey],
      ['admin key', used.adminKey],
      ['callback secret', used.callbackSecret],
      ...credentials.map(([field, value]): [string, string] => [`provider credential ${field}`, value]),
      ['Vonage Basic auth', Buffer.from(`${byField.get('apiKey') ?? ''}:${byField.get('apiSecret') ?? ''}`).toString('base64')],
      ...used.webhookTokens.map((token): [string, string] => ['webhook token', token]),
      ...used.webhookSecrets.map((secret): [string, string] => ['webhook secret', secret]),
      ['Twilio Basic auth', Buffer.from(`${byField.get('accountSid') ?? ''}:${byField.get('authToken') ?? ''}`).toString('base64')],
    ];
    assert.ok(secrets.every(([, value]) => value.length >= 6), 'every secret is long enough to find');

    const lines = output.split('\n').filter((line) => line.trim() !== '');
    // The run did log, at the levels that matter: the search below is not over an empty output.
    assert.ok(lines.some((line) => line.includes('client callback refused')), `no warning line captured:\n${output.slice(-2000)}`);
    assert.ok(lines.some((line) => line.includes('malformed delivery report')), 'the malformed report was logged');
    for (const [what, value] of secrets) {
      const leaks = lines.filter((line) => line.includes(value));
      assert.deepEqual(leaks, [], `${what} appears in the logs`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
