import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { workflowBundleSettings } from '../../src/workers/workflow-bundle';

const HISTORIES = resolve(__dirname, '../histories');

/**
 * Every recorded history must replay against today's workflow code without a nondeterminism
 * error: a change that breaks this would break every message in flight during a deploy.
 */
test('recorded message histories replay deterministically on the current workflow code', async () => {
  const files = readdirSync(HISTORIES).filter((file) => file.endsWith('.json'));
  assert.ok(files.length >= 5, 'histories are recorded (scripts/record-histories.ts)');
  const workflowBundle = await bundleWorkflowCode({
    ...workflowBundleSettings(false),
    logger: new DefaultLogger('WARN'),
  });
  const histories = files.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    // JSON as every Temporal tool writes it; the worker parses it with its own protobuf classes.
    history: JSON.parse(readFileSync(resolve(HISTORIES, file), 'utf8')) as unknown,
  }));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle, replayName: 'smsrouter-replay' }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  assert.deepEqual(failures, []);
});
