import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startApi } from '../../src/api/main';
import { loadConfig } from '../../src/config';
import { DEMO_API_KEY, seedDemoAccount } from '../../src/dev/seed';
import { createLogger } from '../../src/logger';
import type { DevServer } from '../../src/dev/temporal-server';
import { isGrpcCancelledError, isGrpcDeadlineError, WorkflowNotFoundError } from '@temporalio/client';
import { connectNativeTemporalClient } from '../../src/temporal/bounded-native-connection';
import { connectTemporalClient } from '../../src/temporal/connect';
import { installTemporalRuntime } from '../../src/workers/runtime';
import { createTestDatabase } from '../support/database';
import { freePort, startTestDevServer } from '../support/stack';

/**
 * The incident's mechanism, on a bare dev server: Temporal answers a signal to a 100,000-character
 * workflow id with "not found" and the id in its response headers, and the client's HTTP/2 session
 * stops answering until keepalive drops it ~45 s later; the SDK retries the dropped call, forever.
 */
const HUGE_WORKFLOW_ID = 'x'.repeat(100_000);
/** A liveness guard, not a timing target: what it catches took 44 s or never ended. */
const LIVENESS_MS = 20_000;

let server: DevServer;

before(async () => {
  server = await startTestDevServer();
});

after(async () => {
  await server?.stop();
});

function guard<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not return within ${LIVENESS_MS} ms`)), LIVENESS_MS);
    }),
  ]);
}

test("a client's calls are not held up by another client's stalled call in the same process", async () => {
  const background = await connectTemporalClient({ address: server.address, namespace: 'default', callTimeoutMs: 60_000 });
  const front = await connectTemporalClient({ address: server.address, namespace: 'default', callTimeoutMs: 60_000 });
  const stalled = background.client.workflow.getHandle(HUGE_WORKFLOW_ID).signal('deliveryReport', {});
  const stalledEnded = stalled.then(
    () => undefined,
    () => undefined,
  );
  try {
    // Let the huge request reach the server first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let call = 0; call < 3; call += 1) {
      const describe = front.client.workflow.getHandle('no-such-workflow').describe();
      await assert.rejects(guard(describe, 'a describe on the other client'), /not found/i);
    }
  } finally {
    // Closing cancels the stalled call: it ends, and nothing is retried on a closed channel.
    await Promise.all([background.close(), front.close()]);
    await stalledEnded;
  }
});

test('a call that gets no answer ends at its deadline, retries included', async () => {
  const client = await connectTemporalClient({ address: server.address, namespace: 'default', callTimeoutMs: 2_000 });
  try {
    await assert.rejects(guard(client.client.workflow.getHandle(HUGE_WORKFLOW_ID).signal('deliveryReport', {}), 'the stalled signal'), (error: Error) =>
      /deadline/i.test(`${error.message} ${error.cause instanceof Error ? error.cause.message : ''}`),
    );
  } finally {
    await client.close();
  }
});

/** A TCP proxy to the dev server that can stop forwarding: Temporal as seen through a dead network. */
async function freezableProxy(target: string): Promise<{ address: string; freeze(): void; close(): void }> {
  const [host = '127.0.0.1', port = '0'] = target.split(':');
  const sockets: Socket[] = [];
  let frozen = false;
  const proxy = createServer((client) => {
    const upstream = connect(Number(port), host);
    sockets.push(client, upstream);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('data', (chunk: Buffer) => {
        if (!frozen) to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  return {
    address: `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    freeze: () => {
      frozen = true;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      proxy.close();
    },
  };
}

test("the API's close() returns while a submit waits on a Temporal that stopped answering", async () => {
  const database = await createTestDatabase('api_close');
  const proxy = await freezableProxy(server.address);
  try {
    await seedDemoAccount(database.db);
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: proxy.address,
      API_PORT: String(await freePort()),
      // Longer than the guard: only close()'s own bound can make it return in time.
      TEMPORAL_CALL_TIMEOUT_SECONDS: '60',
      LOG_LEVEL: 'silent',
    });
    const api = await startApi(config, createLogger('silent', 'test'));
    proxy.freeze();
    const submit = request(`${api.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+4520123456', from: 'Acme', body: 'stuck' }),
    }).then(
      async (response) => response.body.dump(),
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await guard(api.close(), 'API close');
    await guard(submit, 'the stuck submit to end once its connection is cut');
  } finally {
    proxy.close();
    await database.drop();
  }
});

describe('the native client (the workers\' forwarder)', () => {
  before(() => installTemporalRuntime());

  test('signals and reads through it as through grpc-js, and it names a missing workflow as such', async () => {
    const native = await connectNativeTemporalClient({ address: server.address, namespace: 'default', callTimeoutMs: 10_000 });
    try {
      // The forwarder tells a report for a message Temporal no longer has by this error.
      await assert.rejects(native.client.workflow.getHandle('no-such-workflow').signal('deliveryReport', {}), WorkflowNotFoundError);
      await assert.rejects(native.client.workflow.getHandle('no-such-workflow').describe(), WorkflowNotFoundError);
    } finally {
      await native.close();
    }
  });

  test('a call that gets no answer ends at its deadline, whatever the native client retries', async () => {
    const proxy = await freezableProxy(server.address);
    const native = await connectNativeTemporalClient({ address: proxy.address, namespace: 'default', callTimeoutMs: 2_000 });
    try {
      proxy.freeze();
      // The native client's own timeout, or ours if its retries outlast the deadline.
      await assert.rejects(guard(native.client.workflow.getHandle('some-message').signal('deliveryReport', {}), 'the unanswered signal'), (error: Error) => {
        const cause = error.cause instanceof Error ? error.cause.message : '';
        return isGrpcDeadlineError(error) || /timeout expired/i.test(cause);
      });
    } finally {
      await native.close();
      proxy.close();
    }
  });

  test('a call in flight ends when its AbortSignal fires, and when the client closes', async () => {
    const proxy = await freezableProxy(server.address);
    // Longer than the guard: only the abort and close() can end these calls in time.
    const native = await connectNativeTemporalClient({ address: proxy.address, namespace: 'default', callTimeoutMs: 60_000 });
    try {
      proxy.freeze();
      const controller = new AbortController();
      const aborted = native.connection.withAbortSignal(controller.signal, () => native.client.workflow.getHandle('some-message').signal('deliveryReport', {}));
      setTimeout(() => controller.abort(), 300);
      await assert.rejects(guard(aborted, 'the aborted signal'), (error: unknown) => isGrpcCancelledError(error));

      const stuck = native.client.workflow.getHandle('some-message').describe();
      const ended = stuck.then(
        () => 'answered',
        (error: unknown) => (isGrpcCancelledError(error) ? 'cancelled' : `failed: ${String(error)}`),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await guard(native.close(), 'close');
      assert.equal(await guard(ended, 'the call cut by close()'), 'cancelled');
    } finally {
      proxy.close();
    }
  });
});
