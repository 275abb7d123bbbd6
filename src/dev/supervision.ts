/**
 * The part's side of being run by a supervisor (`npm start`, the process tests): both spawn each
 * part with an IPC channel. A part run on its own (docker-compose, systemd) has none; then these do nothing.
 */

/** Tells the supervisor this part is serving, whatever the log level; a part that goes away with its supervisor. */
export function reportReady(stop: () => void): void {
  if (!process.send) return;
  process.send('ready');
  // Parts run in their own process group so that Ctrl-C reaches only the supervisor, which stops
  // them in order; if the supervisor itself dies, nobody else would stop them.
  process.once('disconnect', stop);
}
