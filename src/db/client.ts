import { PrismaPg } from '@prisma/adapter-pg';
import { Pool, type QueryResultRow } from 'pg';
import { PrismaClient, type Prisma } from '../generated/prisma/client';

export type Database = PrismaClient;

/** The node-postgres pool under each client createDatabase made: the same connections Prisma uses. */
const driverPools = new WeakMap<Database, Pool>();

export class DatabaseClientError extends Error {
  override readonly name = 'DatabaseClientError';
}

export function createDatabase(databaseUrl: string): Database {
  return databaseOn(new Pool({ connectionString: databaseUrl }));
}

/** A client over the given node-postgres pool (createDatabase's, or a unit test's stand-in). */
export function databaseOn(pool: Pool): Database {
  // An idle connection PostgreSQL dropped (a restart) is replaced by the next query, which sees the
  // outage if there is one; unheard, the pool's 'error' would end the process. Prisma adds its own
  // listener only once it first connects, and statements sent past it may come first.
  pool.on('error', () => undefined);
  // Prisma ends the pool on $disconnect, as it would one it made itself.
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  driverPools.set(db, pool);
  return db;
}

function driverPoolOf(db: Database): Pool {
  const pool = driverPools.get(db);
  if (!pool) throw new DatabaseClientError('this database client was not made by createDatabase');
  return pool;
}

/*
 * Statements on every message's path (status writes, the submit claim, the suppression check) go
 * straight to node-postgres, built with Prisma.sql as before: through Prisma's client each cost 2 to
 * 4 times the CPU (`npm run bench -- db-statements`), and they run several times per message.
 * Everything else stays on Prisma.
 */

/** Runs one statement; resolves with the number of rows it touched. */
export async function executeStatement(db: Database, statement: Prisma.Sql): Promise<number> {
  const result = await driverPoolOf(db).query(statement.text, statement.values);
  return result.rowCount ?? 0;
}

/**
 * Runs one query; resolves with its rows as node-postgres parses them: int8 as string, json parsed,
 * and a `timestamp` column (Prisma's DateTime, UTC without a zone) read as local time, so a query
 * selects it `AT TIME ZONE 'UTC'`.
 */
export async function queryRows<Row extends QueryResultRow>(db: Database, statement: Prisma.Sql): Promise<Row[]> {
  const result = await driverPoolOf(db).query<Row>(statement.text, statement.values);
  return result.rows;
}

/**
 * Runs statements in order in one transaction on one connection (a transaction-scoped advisory
 * lock, then the statement it guards); resolves with the last one's rows, read as queryRows reads
 * them. The forwarder claims this way on every pass, where Prisma's $transaction cost twice the
 * CPU for the same claim (`npm run bench -- db-statements`).
 */
export async function queryRowsInTransaction<Row extends QueryResultRow>(db: Database, statements: readonly Prisma.Sql[]): Promise<Row[]> {
  const connection = await driverPoolOf(db).connect();
  let broken: Error | undefined;
  // The pool hears a connection's 'error' only while it is idle: one checked out here whose server
  // goes away (PostgreSQL stopped) would otherwise end the process. Its statement fails with it.
  const onError = (error: Error) => {
    broken = error;
  };
  connection.on('error', onError);
  try {
    await connection.query('BEGIN');
    let rows: Row[] = [];
    for (const statement of statements) rows = (await connection.query<Row>(statement.text, statement.values)).rows;
    await connection.query('COMMIT');
    return rows;
  } catch (error) {
    // A connection that cannot roll back is in an unknown state: the pool drops it.
    await connection.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new DatabaseClientError(String(rollbackError));
    });
    throw error;
  } finally {
    connection.removeListener('error', onError);
    connection.release(broken);
  }
}
