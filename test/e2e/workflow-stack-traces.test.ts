import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { DevServer } from '../../src/dev/temporal-server';
import { installTemporalRuntime } from '../../src/workers/runtime';
import { workflowBundleSettings } from '../../src/workers/workflow-bundle';
import { clientCallbacksWorkflow } from '../../src/workflows';
import { eventually, startTestDevServer } from '../support/stack';

let server: DevServer;
let native: NativeConnection;
let client: Client;

before(async () => {
  installTemporalRuntime();
  server = await startTestDevServer();
  native = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
});

after(async () => {
  await client?.connection.close();
  await native?.close();
  await server?.stop();
});

/** What the Temporal UI's stack trace tab shows for a waiting workflow, run by a worker bundled with `stackTraces`. */
async function stackTraceOfWaitingWorkflow(stackTraces: boolean): Promise<string> {
  const taskQueue = `stack-traces-${String(stackTraces)}`;
  const workflowBundle = await bundleWorkflowCode({ ...workflowBundleSettings(stackTraces), logger: new DefaultLogger('WARN') });
  const worker = await Worker.create({ connection: native, taskQueue, workflowBundle });
  return worker.runUntil(async () => {
    // Waits for its first notification: no activity, so the worker needs none.
    const handle = await client.workflow.start(clientCallbacksWorkflow, {
      workflowId: `msg-stack-traces-${String(stackTraces)}`,
      taskQueue,
      args: [{ messageId: 'msg-stack-traces', callbackUrl: 'https://client.example/callbacks', retrySeconds: 60 }],
    });
    // A query before the first workflow task has completed is refused; the next try answers.
    const trace = await eventually(() => handle.query<string>('__stack_trace').catch(() => undefined));
    await handle.terminate();
    return trace;
  });
}

test('workflow stack traces are off by default: the SDK captures no stack per promise, and the stack trace query names no workflow code', async () => {
  const trace = await stackTraceOfWaitingWorkflow(loadConfig({}).WORKFLOW_STACK_TRACES);
  assert.doesNotMatch(trace, /clientCallbacksWorkflow|client-callbacks/);
});

test('WORKFLOW_STACK_TRACES=true keeps them: the stack trace query shows where the workflow waits', async () => {
  const trace = await stackTraceOfWaitingWorkflow(loadConfig({ WORKFLOW_STACK_TRACES: 'true' }).WORKFLOW_STACK_TRACES);
  assert.match(trace, /client-callbacks/);
});
