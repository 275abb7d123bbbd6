/**
 * Whether an error from the database client means PostgreSQL could not be reached or went away
 * (stopped, restarting, crashed, out of connections), as opposed to a query it refused. Such a
 * request may be retried as it is: nothing about it was wrong, and nothing of it was made durable.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Object && depth < 6; depth += 1) {
    const fields = current as { code?: unknown; kind?: unknown; originalCode?: unknown; message?: unknown; meta?: unknown; cause?: unknown };
    if (typeof fields.code === 'string' && UNREACHABLE_CODES.has(fields.code)) return true;
    if (typeof fields.kind === 'string' && UNREACHABLE_KINDS.has(fields.kind)) return true;
    // The SQLSTATE: the adapter's originalCode, or the code of node-postgres's own error (the adapter's
    // `postgres` kind, or a statement sent past Prisma, see executeStatement).
    for (const code of [fields.originalCode, fields.code]) {
      if (typeof code === 'string' && UNAVAILABLE_SQLSTATE.test(code)) return true;
    }
    if (typeof fields.message === 'string' && CONNECTION_LOST.test(fields.message)) return true;
    const adapterError = (fields.meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError;
    current = adapterError ?? fields.cause;
  }
  return false;
}

/**
 * Prisma's: P1001 cannot reach the server, P1002 timed out reaching it, P1008 operation timed out,
 * P1017 server closed the connection, P2024 no connection from the pool in time. Node's socket
 * errors, for errors that come straight from the driver.
 */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/** The driver adapter's kinds for the same (@prisma/adapter-pg). */
const UNREACHABLE_KINDS: ReadonlySet<string> = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/** SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, crash, starting up), 53300 (too many connections). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/** node-postgres's words for a connection that died under a query. */
const CONNECTION_LOST = /^Connection terminated|^terminating connection/;
