/**
 * The one setup step of every shape (`npm run setup`, `node dist/scripts/setup.js` in the image,
 * run by `npm start` and by docker-compose before the API and the workers): applies the database
 * migrations, creates the Temporal namespace and the router's search attributes when missing.
 * Idempotent: what exists is left alone.
 */
import { Connection } from '@temporalio/client';
import { applyMigrations, MigrationError } from './migrate';
import { ConfigError, loadConfig, type Config } from '../src/config';
import { ensureNamespace, ensureSearchAttributes, TemporalNotSetUpError, waitUntilUsable } from '../src/temporal/namespace';

/** How long the setup waits for a Temporal server that is still starting, and for a new namespace. */
const TEMPORAL_WAIT_MS = 90_000;

export async function runSetup(config: Config, log: (line: string) => void): Promise<void> {
  await applyMigrations(config.DATABASE_URL, { log });
  const connection = await connectPatiently(config.TEMPORAL_ADDRESS);
  try {
    const namespace = config.TEMPORAL_NAMESPACE;
    if (await ensureNamespace(connection, namespace)) log(`Created Temporal namespace ${namespace}`);
    const added = await ensureSearchAttributes(connection, namespace);
    log(added.length > 0 ? `Added search attributes ${added.join(', ')}` : 'Search attributes already registered');
    await waitUntilUsable(connection, namespace, TEMPORAL_WAIT_MS);
    log(`Temporal namespace ${namespace} is ready`);
  } finally {
    await connection.close();
  }
}

/** A server started just before (docker-compose, npm start) may take a while to answer. */
async function connectPatiently(address: string): Promise<Connection> {
  const deadline = Date.now() + TEMPORAL_WAIT_MS;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 5_000 });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new TemporalNotSetUpError(`Temporal server at ${address} did not answer within ${TEMPORAL_WAIT_MS / 1000} s (${String(error)})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

if (require.main === module) {
  Promise.resolve()
    .then(() => runSetup(loadConfig(), (line) => console.log(`setup: ${line}`)))
    .catch((error: unknown) => {
      const known = error instanceof ConfigError || error instanceof MigrationError || error instanceof TemporalNotSetUpError;
      console.error(known ? `setup: ${(error as Error).message}` : error);
      process.exitCode = 1;
    });
}
