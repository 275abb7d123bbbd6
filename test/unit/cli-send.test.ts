import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchProgress, ProgressDisplay } from '../../src/cli/progress';
import { parseRecipients } from '../../src/cli/recipients';

/** Collects what a display writes, as a terminal or as a pipe. */
function output(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = { isTTY, write: (chunk: string) => chunks.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, chunks };
}

describe('send --file', () => {
  test('a recipients file is one number per line or to,clientRef columns, with an optional header', () => {
    const source = ['to,clientRef', '+4520123456', '"+4520123457","ref-2"', '', '# a comment', ' +4520123458 , ', '+4520123459,ref-4'].join('\r\n');
    assert.deepEqual(parseRecipients(source), ['+4520123456', { to: '+4520123457', clientRef: 'ref-2' }, '+4520123458', { to: '+4520123459', clientRef: 'ref-4' }]);
    assert.deepEqual(parseRecipients('+4520123456\n'), ['+4520123456']);
  });

  test('progress on a terminal is one line redrawn in place, ending with a newline', () => {
    const progress = new BatchProgress(4);
    const { stream, chunks } = output(true);
    const display = new ProgressDisplay(progress, stream);
    progress.accepted = 3;
    progress.rejected = 1;
    display.update();
    progress.recordFinal('delivered');
    display.update();
    display.done();
    assert.equal(chunks.length, 3);
    assert.ok(chunks.every((chunk) => chunk.startsWith('\r[')));
    assert.match(chunks[1] ?? '', /accepted 3\/4, final 1\/3 \(delivered 1\), rejected 1/);
    assert.ok(chunks[2]?.endsWith('\n'));
  });

  test('progress on a pipe is plain lines, at most one a second, and always the last state', () => {
    const progress = new BatchProgress(2);
    const { stream, chunks } = output(false);
    const display = new ProgressDisplay(progress, stream);
    progress.accepted = 2;
    display.update();
    progress.recordFinal('delivered');
    display.update();
    progress.recordFinal('failed');
    display.done();
    assert.deepEqual(chunks, ['accepted 2/2, final 0/2\n', 'accepted 2/2, final 2/2 (delivered 1, failed 1)\n']);
  });
});
