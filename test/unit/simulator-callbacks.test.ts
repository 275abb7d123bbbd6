import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { ProviderSimulator, type SimulatedProviderBehaviour } from '../../src/simulator/server';

/** A router's DLR endpoint that answers each call with the next status of its script, then 200. */
class ScriptedReceiver {
  readonly calls: string[] = [];
  private readonly server: Server;
  private script: number[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      this.calls.push(req.url ?? '');
      res.writeHead(this.script.shift() ?? 200).end();
    });
  }

  answerNext(...statusCodes: number[]): void {
    this.script = statusCodes;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('the simulator calls back like a provider', () => {
  const receiver = new ScriptedReceiver();
  let receiverUrl: string;
  let simulator: ProviderSimulator;

  before(async () => {
    receiverUrl = await receiver.start();
    simulator = new ProviderSimulator({
      providers: [{ name: 'sim', dialect: 'generic', credentials: { apiKey: 'key', dlrSecret: 'secret' }, behaviour: { dlrDelayMs: 0 } }],
    });
    await simulator.start();
  });

  after(async () => {
    await simulator.close();
    await receiver.close();
  });

  async function reportFor(reference: string, behaviour: Partial<SimulatedProviderBehaviour>) {
    simulator.configure('sim', behaviour);
    const submit = await request(`${simulator.baseUrlOf('sim')}/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer key', 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+4512345678', from: 'Acme', text: 'hi', reference, callbackUrl: `${receiverUrl}/dlr/${reference}` }),
    });
    assert.equal(submit.statusCode, 201);
    const { id } = (await submit.body.json()) as { id: string };
    for (let waited = 0; waited < 10_000; waited += 50) {
      const callback = simulator.callbacks.find((entry) => entry.providerMessageId === id);
      if (callback) return callback;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`no callback recorded for ${reference}`);
  }

  test('a report the router answered 503, then 429, is sent again until it is taken', async () => {
    receiver.answerNext(503, 429);
    const callback = await reportFor('retried', { callbackRetryForMs: 10_000 });
    assert.equal(callback.statusCode, 200);
    assert.equal(callback.tries, 3);
    assert.equal(receiver.calls.filter((url) => url === '/dlr/retried').length, 3);
  });

  test('a report the router refused with a 4xx is not sent again', async () => {
    receiver.answerNext(401);
    const callback = await reportFor('refused', { callbackRetryForMs: 10_000 });
    assert.equal(callback.statusCode, 401);
    assert.equal(callback.tries, 1);
  });

  test('with retries off, a 503 is the only try', async () => {
    receiver.answerNext(503);
    const callback = await reportFor('once', { callbackRetryForMs: 0 });
    assert.equal(callback.statusCode, 503);
    assert.equal(callback.tries, 1);
  });
});
