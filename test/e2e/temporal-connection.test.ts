import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer, type DevServer } from '../../src/dev/temporal-server';
import { connectTemporalClient } from '../../src/temporal/connect';
import { freePort } from '../support/stack';

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
  server = await startTemporalDevServer({ binary: findTemporalCli(), port: await freePort(), uiPort: 0 });
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
  const cancel = new AbortController();
  const stalled = background.connection.withAbortSignal(cancel.signal, () => background.workflow.getHandle(HUGE_WORKFLOW_ID).signal('deliveryReport', {}));
  const stalledEnded = stalled.then(
    () => undefined,
    () => undefined,
  );
  try {
    // Let the huge request reach the server first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let call = 0; call < 3; call += 1) {
      const describe = front.workflow.getHandle('no-such-workflow').describe();
      await assert.rejects(guard(describe, 'a describe on the other client'), /not found/i);
    }
  } finally {
    cancel.abort();
    await stalledEnded;
    await Promise.all([background.connection.close(), front.connection.close()]);
  }
});

test('a call that gets no answer ends at its deadline, retries included', async () => {
  const client = await connectTemporalClient({ address: server.address, namespace: 'default', callTimeoutMs: 2_000 });
  try {
    await assert.rejects(guard(client.workflow.getHandle(HUGE_WORKFLOW_ID).signal('deliveryReport', {}), 'the stalled signal'), (error: Error) =>
      /deadline/i.test(`${error.message} ${error.cause instanceof Error ? error.cause.message : ''}`),
    );
  } finally {
    await client.connection.close();
  }
});
