/** A server that exits during start-up says what it printed (src/dev/temporal-server.ts). */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ServerStartError, spawnServerProcess } from '../../src/dev/temporal-server';

test('a server that exits before it listens fails with the end of its output', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'smsrouter-server-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const binary = join(dir, 'server');
  writeFileSync(binary, '#!/bin/sh\necho "starting"\necho "listen tcp 127.0.0.1:7233: bind: address already in use" >&2\nexit 1\n');
  chmodSync(binary, 0o755);
  const server = spawnServerProcess(binary, []);
  await assert.rejects(server.listening(1, 'the server did not start on port 1'), (error: unknown) => {
    assert.ok(error instanceof ServerStartError, `a ServerStartError, got ${String(error)}`);
    assert.match(error.output, /starting/);
    assert.match(error.output, /bind: address already in use/);
    assert.match(error.message, /^the server did not start on port 1; it printed:\n/);
    return true;
  });
});
