/**
 * The part's side of being run by a supervisor (`npm start`, the process tests): both spawn each
 * part with an IPC channel. A part run on its own (docker-compose, systemd) has none; then these do nothing.
 */

/** Longest a part takes to stop once its supervisor is gone; nobody is left to kill it after that. */
const ORPHAN_STOP_MS = 10_000;

/** Tells the supervisor this part is serving, whatever the log level; the part goes away with its supervisor. */
export function reportReady(stop: () => void): void {
  if (!process.send) return;
  process.send('ready');
  // Parts run in their own process group so that Ctrl-C reaches only the supervisor, which stops
  // them in order; if the supervisor itself dies, nobody else would stop them.
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), ORPHAN_STOP_MS).unref();
    stop();
  });
}
