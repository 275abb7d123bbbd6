import { randomUUID } from 'node:crypto';
/**
 * Run by test/e2e/secrets-in-logs.test.ts in a child process whose every output line is kept:
 * the whole stack at LOG_LEVEL=debug, traffic that uses every kind of secret (API key, admin key,
 * each provider's credentials, an account's callback secret, our webhook tokens), good and bad. It writes the secrets
 * it used to SECRETS_FILE, so the test can look for them in what was printed.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { ROUTER_TASK_QUEUE } from '../../src/domain/dispatch';
import type { MessageRequest } from '../../src/domain/message';
import { DEMO_PROVIDERS } from '../../src/dev/seed';
import { messageWorkflow } from '../../src/workflows';
import { eventually, startStack } from './stack';
import { DEFAULT_MESSAGE_POLICY } from '../../src/client/request';

const ADMIN_KEY = 'admin-key-that-must-never-be-logged-7f3a';

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, key: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await request(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: () => JSON.parse(text) as Record<string, unknown> };
}

async function main(): Promise<void> {
  const secretsFile = process.env.SECRETS_FILE;
  if (!secretsFile) throw new Error('SECRETS_FILE is not set');
  process.env.LOG_LEVEL = 'debug';
  process.env.ADMIN_API_KEY = ADMIN_KEY;
  const stack = await startStack();
  const api = stack.api.url;
  try {
    // Every wire format, so every adapter signs, authenticates and parses with its credentials.
    const prefixes: Readonly<Record<string, string>> = { 'sim-vonage': '44', 'sim-twilio': '1', 'sim-gatewayapi': '49' };
    for (const provider of DEMO_PROVIDERS.filter((p) => prefixes[p.id])) {
      await stack.addProvider({ id: provider.id, dialect: provider.adapter, credentials: provider.credentials, routes: [{ prefix: prefixes[provider.id] ?? '' }], alreadySimulated: true });
    }

    // Our webhook tokens, as an operator reads them, and the secrets they are made with.
    const webhookTokens: string[] = [];
    for (const provider of DEMO_PROVIDERS) {
      const { deliveryReports } = (await call('GET', `${api}/v1/admin/providers/${provider.id}/webhooks`, ADMIN_KEY)).json();
      webhookTokens.push(new URL(String(deliveryReports)).searchParams.get('token') ?? '');
    }
    const webhookSecrets = (await stack.db.provider.findMany({ select: { webhookSecret: true } })).map((row) => row.webhookSecret);

    const account = (await call('POST', `${api}/v1/admin/accounts`, ADMIN_KEY, { id: 'leaky', name: 'Leaky Ltd' })).json();
    const { key } = (await call('POST', `${api}/v1/admin/accounts/leaky/keys`, ADMIN_KEY)).json() as { key: string };
    const { callbackSecret } = account as { callbackSecret: string };

    const endpoint = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(req.url === '/fail' ? 500 : 204).end());
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;

    // Good traffic to each provider, with callbacks; one endpoint that fails.
    const numbers = ['+4560123450', '+447400123456', '+12015550123', '+4915123456789'];
    const ids: string[] = [];
    for (const [index, to] of numbers.entries()) {
      const sent = await call('POST', `${api}/v1/messages`, key, { to, from: 'Acme', body: 'Your code is 4711', callbackUrl: index === 0 ? `${hook}/fail` : `${hook}/ok` });
      if (sent.status !== 202) throw new Error(`submit to ${to} answered ${sent.status}`);
      ids.push(((sent.json().messages as { id: string }[])[0] ?? { id: '' }).id);
    }
    // The failures below are meant for the messages sent after them: the good traffic is at its providers first.
    await eventually(async () => (ids.every((id) => stack.simulator.submitsFor(id).length > 0) ? true : undefined), 60_000, 'the good traffic submitted');
    // A provider refusing our credentials, and one failing, for the error paths.
    stack.simulator.configure('sim-generic', { failNext: { failure: 'auth', count: 1 } });
    await call('POST', `${api}/v1/messages`, key, { to: '+4560123451', from: 'Acme', body: 'x' });
    stack.simulator.configure('sim-vonage', { failNext: { failure: 'server_error', count: 1 } });
    await call('POST', `${api}/v1/messages`, key, { to: '+447400123457', from: 'Acme', body: 'x' });

    // Bad traffic: wrong keys, forged and malformed delivery reports carrying a secret, hostile input.
    await call('GET', `${api}/v1/messages/${ids[0] ?? ''}`, `${key}x`);
    await call('GET', `${api}/v1/admin/accounts`, `${ADMIN_KEY}x`);
    await call('POST', `${api}/v1/admin/accounts`, ADMIN_KEY, { id: 'bad id', name: 'x' });
    const genericSecret = DEMO_PROVIDERS[0]?.credentials.dlrSecret ?? '';
    await call('POST', `${api}/v1/dlr/sim-generic?secret=${genericSecret}`, key, '{not json');
    await call('POST', `${api}/v1/dlr/sim-generic?secret=wrong`, key, { messageId: 'x', status: 'delivered' });
    await call('POST', `${api}/v1/dlr/sim-generic`, key, '{"status": 5}', { 'x-dlr-secret': genericSecret });
    await call('POST', `${api}/v1/dlr/sim-generic?token=${webhookTokens[0] ?? ''}`, key, '{not json', { 'x-dlr-secret': genericSecret });
    await call('POST', `${api}/v1/dlr/sim-vonage?token=${webhookTokens[0] ?? ''}`, key, { messageId: 'x', status: 'delivered' });
    await call('POST', `${api}/v1/messages`, key, { to: '+4560123452', from: 'Acme', body: 'x', callbackUrl: 'http://169.254.169.254/latest/meta-data/' });
    await call('POST', `${api}/v1/messages`, key, { to: '+4560123452', from: 'Acme', body: 'x', clientRef: 'nul\u0000' });

    // A callback refused at send time (a workflow started past the API's check), which logs.
    const refused: MessageRequest = {
      // Our ids' shape: a delivery report naming anything else is refused at the door.
      messageId: randomUUID(),
      accountId: 'leaky',
      to: '+4560123453',
      country: 'DK',
      from: 'Acme',
      body: 'x',
      encoding: 'gsm7',
      segments: 1,
      callbackUrl: 'http://169.254.169.254/latest/meta-data/',
      acceptedAt: new Date().toISOString(),
      policy: { ...DEFAULT_MESSAGE_POLICY, callbackRetrySeconds: 60 },
    };
    await stack.temporal.workflow.start(messageWorkflow, { taskQueue: ROUTER_TASK_QUEUE, workflowId: refused.messageId, args: [refused] });
    ids.push(refused.messageId);

    for (const id of ids) {
      await eventually(async () => {
        const view = (await call('GET', `${api}/v1/messages/${id}`, key)).json();
        return view.status === 'delivered' ? true : undefined;
      }, 60_000, `${id} delivered`);
    }
    // Let the callbacks of the final statuses go out (or be refused).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    endpoint.close();

    const credentials = DEMO_PROVIDERS.flatMap((provider) => Object.entries(provider.credentials));
    writeFileSync(secretsFile, JSON.stringify({ apiKey: key, adminKey: ADMIN_KEY, callbackSecret, credentials, webhookTokens, webhookSecrets }));
  } finally {
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
