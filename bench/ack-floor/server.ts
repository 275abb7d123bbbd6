// The fastest acknowledgement this machine gives: an HTTP server that reads the body and answers
// 200 with nothing in between (no framework, no authentication, no write). Run in its own process
// by bench/dlr-ack.ts, which tells it its port over IPC.
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"ok":true}');
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.send?.(address.port);
});
process.on('disconnect', () => server.close());
