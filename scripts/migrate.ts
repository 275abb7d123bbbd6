// Applies prisma/migrations to a PostgreSQL database.
//
// `prisma migrate deploy` needs Prisma's native schema engine, which some machines cannot
// download. There we fall back to a small applier that keeps `_prisma_migrations` exactly
// as the engine would, so a database migrated by either path can later be migrated by the
// other. The layout and rules below follow prisma-engines (schema-engine/connectors/
// sql-schema-connector: the Postgres flavour's create_migrations_table and acquire_lock, the
// MigrationPersistence impl, schema-engine/core's apply_migrations and checksum.rs).
//
//   tsx scripts/migrate.ts          (reads DATABASE_URL)

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/smsrouter';

// From scripts/ under tsx, or from dist/scripts/ once compiled.
const PROJECT_ROOT =
  [path.resolve(__dirname, '..'), path.resolve(__dirname, '../..')].find((dir) =>
    existsSync(path.join(dir, 'prisma', 'schema.prisma')),
  ) ?? path.resolve(__dirname, '..');
const DEFAULT_MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'prisma', 'migrations');
const MIGRATIONS_TABLE = '_prisma_migrations';

// The key Prisma Migrate locks on. Sharing it means our applier and `prisma migrate deploy`
// exclude each other too, not just two copies of this script.
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

// Byte-for-byte the engine's DDL, so `prisma migrate status` and later deploys find the
// table they expect (columns, types, the implicit `_prisma_migrations_pkey`).
const CREATE_MIGRATIONS_TABLE_SQL = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);`;

// Tables the engine does not count when deciding whether a schema without a migrations table
// is "not empty" (PostGIS creates this one on extension install).
const IGNORED_EXISTING_TABLES: ReadonlySet<string> = new Set([MIGRATIONS_TABLE, 'spatial_ref_sys']);

export type MigrationEngine = 'auto' | 'builtin' | 'prisma';

export interface ApplyMigrationsOptions {
  /** Folder holding `<name>/migration.sql` folders; defaults to prisma/migrations. */
  migrationsDir?: string;
  /** Receives one human-readable line per step; silent by default. */
  log?: (line: string) => void;
  /**
   * 'auto' (default) uses `prisma migrate deploy` when a schema engine is installed and the
   * default migrations folder is used, else the built-in applier. Tests that assert the
   * built-in applier's own behaviour pin it with 'builtin'.
   */
  engine?: MigrationEngine;
}

export interface ApplyMigrationsResult {
  /** Names of the migrations applied by this call, in order. */
  applied: string[];
}

export type MigrationErrorCode =
  | 'checksum_mismatch'
  | 'failed_migration_recorded'
  | 'migration_failed'
  | 'missing_migration_script'
  | 'schema_not_empty'
  | 'provider_mismatch'
  | 'engine_unavailable'
  | 'prisma_cli_failed';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';

  constructor(
    readonly code: MigrationErrorCode,
    readonly migrationName: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface PgErrorLike {
  code: string;
  message: string;
}

function isPgError(err: unknown): err is PgErrorLike {
  return err instanceof Error && typeof (err as Partial<PgErrorLike>).code === 'string';
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function databaseNameOf(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
  if (name === '') throw new Error('DATABASE_URL names no database');
  return name;
}

function withDatabaseName(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Prisma puts the Postgres schema in `?schema=`; pg ignores that parameter, so we apply it ourselves. */
function schemaNameOf(databaseUrl: string): string {
  return new URL(databaseUrl).searchParams.get('schema') ?? 'public';
}

/** For log lines: never print credentials. */
function describeTarget(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return `${url.hostname}:${url.port || '5432'}/${databaseNameOf(databaseUrl)}`;
}

/**
 * Creates the URL's database if it does not exist, so a fresh machine needs no manual
 * `createdb`. Returns whether it created it.
 */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const database = databaseNameOf(databaseUrl);

  // Probe the target first: a role may own its database yet be unable to open `postgres`.
  const probe = new Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    // 3D000 invalid_catalog_name is the only failure that creating the database can fix.
    if (!isPgError(err) || err.code !== '3D000') throw err;
  } finally {
    await probe.end().catch(() => undefined);
  }

  const admin = new Client({ connectionString: withDatabaseName(databaseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
    return true;
  } catch (err) {
    // Two starters racing: 42P04 if the other committed first, 23505 if we collided on
    // pg_database's unique index mid-flight. Either way the database now exists.
    if (isPgError(err) && (err.code === '42P04' || err.code === '23505')) return false;
    throw err;
  } finally {
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------
// Checksums (schema-engine/core/src/checksum.rs)

function sha256(data: Buffer | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** What Prisma stores in `_prisma_migrations.checksum`: lowercase, zero-padded hex SHA-256. */
export function migrationChecksum(script: Buffer | string): string {
  return sha256(script).toString('hex');
}

/**
 * Prisma's comparison, not plain equality: it accepts the script with either line ending
 * (git may rewrite them on checkout) and checksums written by old engines that dropped
 * leading zeros of each byte. Being stricter than Prisma would make us reject databases
 * that `prisma migrate deploy` is happy with.
 */
export function scriptMatchesChecksum(script: Buffer, recorded: string): boolean {
  const text = script.toString('utf8');
  const candidates = [script, text.replace(/\r\n/g, '\n'), text.replace(/\n/g, '\r\n')];
  const legacy = recorded !== '' && recorded.length !== 64;
  return candidates.some((candidate) => {
    const digest = sha256(candidate);
    const rendered = legacy
      ? Array.from(digest, (byte) => byte.toString(16)).join('')
      : digest.toString('hex');
    return rendered === recorded;
  });
}

// ---------------------------------------------------------------------------------------
// Migrations on disk

export interface MigrationFolder {
  name: string;
  script: Buffer;
  checksum: string;
}

function readLockProvider(migrationsDir: string): string | undefined {
  const lockFile = path.join(migrationsDir, 'migration_lock.toml');
  if (!existsSync(lockFile)) return undefined;
  const match = /^\s*provider\s*=\s*"([^"]*)"/m.exec(readFileSync(lockFile, 'utf8'));
  return match?.[1];
}

/** Every `<name>/migration.sql` in name order, the order Prisma applies them in. */
export function readMigrationFolders(migrationsDir: string): MigrationFolder[] {
  // Prisma refuses migrations written for another provider (error_on_changed_provider).
  const provider = readLockProvider(migrationsDir);
  if (provider !== undefined && provider !== 'postgresql') {
    throw new MigrationError(
      'provider_mismatch',
      undefined,
      `${path.join(migrationsDir, 'migration_lock.toml')} says provider "${provider}", but the target is PostgreSQL`,
    );
  }

  const names = readdirSync(migrationsDir)
    .filter((entry) => statSync(path.join(migrationsDir, entry)).isDirectory())
    // Code-unit order equals Prisma's byte order for the ASCII names it generates.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  return names.map((name) => {
    const file = path.join(migrationsDir, name, 'migration.sql');
    if (!existsSync(file)) {
      throw new MigrationError('missing_migration_script', name, `Migration ${name} has no migration.sql (${file})`);
    }
    const script = readFileSync(file);
    return { name, script, checksum: migrationChecksum(script) };
  });
}

// ---------------------------------------------------------------------------------------
// The migrations table

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

async function migrationsTableExists(client: Client): Promise<boolean> {
  const result = await client.query<{ exists: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM information_schema.tables
       WHERE table_schema = current_schema() AND table_name = $1
     ) AS exists`,
    [MIGRATIONS_TABLE],
  );
  return result.rows[0]?.exists === true;
}

async function readMigrationRows(client: Client): Promise<MigrationRow[]> {
  const result = await client.query<MigrationRow>(
    `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
     FROM _prisma_migrations ORDER BY started_at`,
  );
  return result.rows;
}

/**
 * Refuses to go on when the recorded history cannot be trusted. A failed migration may have
 * left its SQL half-applied (always so under `prisma migrate deploy`), and an edited one means
 * this database was built from different SQL than the repository now holds; re-running either
 * silently could corrupt data, so a human must resolve it (`prisma migrate resolve`).
 */
function verifyHistory(rows: readonly MigrationRow[], folders: readonly MigrationFolder[]): void {
  const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed !== undefined) {
    const logs = failed.logs?.trim() ? `:\n${failed.logs.trim()}` : '';
    throw new MigrationError(
      'failed_migration_recorded',
      failed.migration_name,
      `Migration ${failed.migration_name} is recorded as failed (started ${failed.started_at.toISOString()}, never finished)${logs}\n` +
        `Inspect the database, then run \`prisma migrate resolve --rolled-back ${failed.migration_name}\` ` +
        `(or --applied if its changes are in place) before migrating again.`,
    );
  }

  const byName = new Map(folders.map((folder) => [folder.name, folder]));
  for (const row of rows) {
    if (row.rolled_back_at !== null) continue;
    const folder = byName.get(row.migration_name);
    if (folder === undefined) continue;
    if (!scriptMatchesChecksum(folder.script, row.checksum)) {
      throw new MigrationError(
        'checksum_mismatch',
        row.migration_name,
        `Migration ${row.migration_name} was modified after it was applied: the database recorded checksum ` +
          `${row.checksum}, prisma/migrations has ${folder.checksum}. Restore the original migration.sql and ` +
          `put the change in a new migration.`,
      );
    }
  }
}

function isAppliedIn(rows: readonly MigrationRow[], name: string): boolean {
  // A rolled-back record does not count: Prisma applies that migration again.
  return rows.some((row) => row.migration_name === name && row.rolled_back_at === null);
}

async function useSchema(client: Client, schema: string): Promise<void> {
  if (schema !== 'public') await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await client.query(`SET search_path TO ${quoteIdent(schema)}`);
}

async function acquireLock(client: Client, log: (line: string) => void): Promise<void> {
  const attempt = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
    PRISMA_ADVISORY_LOCK_KEY,
  ]);
  if (attempt.rows[0]?.locked === true) return;
  // Unlike Prisma's 10 s timeout we wait: the holder is another starter mid-migration, and
  // once it finishes there will be nothing left for us to do.
  log(`Another process is migrating this database; waiting for advisory lock ${PRISMA_ADVISORY_LOCK_KEY}`);
  await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
}

async function applyBuiltin(
  databaseUrl: string,
  folders: readonly MigrationFolder[],
  log: (line: string) => void,
): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await useSchema(client, schemaNameOf(databaseUrl));
    // Session-level, like Prisma's: held across the per-migration transactions below and
    // released when the connection closes, even if we crash.
    await acquireLock(client, log);

    if (!(await migrationsTableExists(client))) {
      const tables = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
      );
      const existing = tables.rows.map((row) => row.table_name).filter((name) => !IGNORED_EXISTING_TABLES.has(name));
      // Prisma's P3005: tables without migration history mean the schema was built some other
      // way; running the init migration over it would fail halfway or duplicate objects.
      if (existing.length > 0) {
        throw new MigrationError(
          'schema_not_empty',
          undefined,
          `The database schema is not empty (${existing.join(', ')}) but has no ${MIGRATIONS_TABLE} table. ` +
            `Baseline it first: https://pris.ly/d/migrate-baseline`,
        );
      }
      await client.query(CREATE_MIGRATIONS_TABLE_SQL);
    }

    const rows = await readMigrationRows(client);
    verifyHistory(rows, folders);

    const known = new Set(folders.map((folder) => folder.name));
    for (const row of rows) {
      if (!known.has(row.migration_name) && row.rolled_back_at === null) {
        log(`Warning: ${row.migration_name} is recorded in the database but missing from the migrations folder`);
      }
    }

    const applied: string[] = [];
    for (const folder of folders) {
      if (isAppliedIn(rows, folder.name)) continue;
      log(`Applying migration ${folder.name}`);
      await applyOne(client, folder);
      applied.push(folder.name);
    }
    return applied;
  } finally {
    await client.end();
  }
}

async function applyOne(client: Client, folder: MigrationFolder): Promise<void> {
  const id = randomUUID();
  // Recorded before and outside the transaction, as Prisma does: if we die mid-migration the
  // row stays unfinished, which every later run (ours or Prisma's) reports as failed.
  await client.query(
    'INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)',
    [id, folder.checksum, folder.name],
  );

  // Prisma runs a Postgres migration script without a transaction, so a failing statement
  // leaves the ones before it applied. We wrap the whole script (and its completion record)
  // in one, so a failure leaves the schema exactly as before and `migrate resolve
  // --rolled-back` is always safe. The cost: a script that cannot run in a transaction block
  // (CREATE INDEX CONCURRENTLY, its own COMMIT) fails here and needs its own migration run by
  // `prisma migrate deploy`.
  try {
    await client.query('BEGIN');
    // No parameters, so pg uses the simple protocol, which accepts many statements at once.
    await client.query(folder.script.toString('utf8'));
    // clock_timestamp(), not now(): inside a transaction now() is the time of BEGIN.
    await client.query(
      'UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1, finished_at = clock_timestamp() WHERE id = $1',
      [id],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const detail = err instanceof Error ? err.message : String(err);
    // Same place Prisma keeps the error (record_failed_step), so `migrate status` shows it.
    await client
      .query('UPDATE _prisma_migrations SET logs = $2 WHERE id = $1', [id, detail])
      .catch(() => undefined);
    throw new MigrationError(
      'migration_failed',
      folder.name,
      `Migration ${folder.name} failed and was rolled back: ${detail}\n` +
        `Fix it, then run \`prisma migrate resolve --rolled-back ${folder.name}\` and migrate again.`,
      { cause: err },
    );
  }
}

// ---------------------------------------------------------------------------------------
// The Prisma CLI path

function isRealSchemaEngine(binary: string): boolean {
  try {
    accessSync(binary, fsConstants.X_OK);
    // A stub or a half-downloaded file must not win over the built-in applier.
    const output = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: 'pipe' });
    return /schema-engine/i.test(output);
  } catch {
    return false;
  }
}

/** The schema engine Prisma would use, if one is installed and runs. */
export function findSchemaEngine(): string | undefined {
  const fromEnv = process.env.PRISMA_SCHEMA_ENGINE_BINARY;
  if (fromEnv !== undefined && fromEnv !== '') {
    // Prisma resolves this variable against the working directory.
    const resolved = path.resolve(process.cwd(), fromEnv);
    return isRealSchemaEngine(resolved) ? resolved : undefined;
  }
  const enginesDir = path.join(PROJECT_ROOT, 'node_modules', '@prisma', 'engines');
  if (!existsSync(enginesDir)) return undefined;
  return readdirSync(enginesDir)
    .filter((entry) => entry.startsWith('schema-engine-') && !entry.endsWith('.gz') && !entry.endsWith('.sha256'))
    .map((entry) => path.join(enginesDir, entry))
    .find(isRealSchemaEngine);
}

function runPrismaDeploy(databaseUrl: string, log: (line: string) => void): Promise<void> {
  const prisma = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'prisma');
  return new Promise((resolve, reject) => {
    // prisma.config.ts reads DATABASE_URL and the migrations path.
    const child = spawn(prisma, ['migrate', 'deploy'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => {
      for (const line of output.split('\n')) if (line.trim() !== '') log(line);
      if (code === 0) resolve();
      else {
        const failed = /Migration name: (\S+)/.exec(output)?.[1];
        reject(new MigrationError('prisma_cli_failed', failed, `prisma migrate deploy exited with ${code}:\n${output}`));
      }
    });
  });
}

async function finishedMigrationNames(databaseUrl: string): Promise<{ rows: MigrationRow[]; finished: Set<string> }> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${quoteIdent(schemaNameOf(databaseUrl))}`);
    if (!(await migrationsTableExists(client))) return { rows: [], finished: new Set() };
    const rows = await readMigrationRows(client);
    const finished = new Set(
      rows.filter((row) => row.finished_at !== null && row.rolled_back_at === null).map((row) => row.migration_name),
    );
    return { rows, finished };
  } finally {
    await client.end();
  }
}

async function applyWithPrisma(
  databaseUrl: string,
  folders: readonly MigrationFolder[],
  log: (line: string) => void,
): Promise<string[]> {
  // `migrate deploy` only warns about edited migrations; check first so both paths refuse the same histories.
  const before = await finishedMigrationNames(databaseUrl);
  verifyHistory(before.rows, folders);
  await runPrismaDeploy(databaseUrl, log);
  const after = await finishedMigrationNames(databaseUrl);
  return folders.map((folder) => folder.name).filter((name) => after.finished.has(name) && !before.finished.has(name));
}

// ---------------------------------------------------------------------------------------

export async function applyMigrations(
  databaseUrl: string,
  options: ApplyMigrationsOptions = {},
): Promise<ApplyMigrationsResult> {
  const log = options.log ?? ((): void => undefined);
  const migrationsDir = path.resolve(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const engine = options.engine ?? 'auto';

  if (await ensureDatabase(databaseUrl)) log(`Created database ${describeTarget(databaseUrl)}`);
  const folders = readMigrationFolders(migrationsDir);

  // The CLI takes its migrations folder from prisma.config.ts, so any other folder has to
  // go through the built-in applier.
  const schemaEngine =
    engine === 'builtin' || migrationsDir !== DEFAULT_MIGRATIONS_DIR ? undefined : findSchemaEngine();
  if (engine === 'prisma' && schemaEngine === undefined) {
    throw new MigrationError(
      'engine_unavailable',
      undefined,
      'engine "prisma" was requested but no usable Prisma schema engine is installed (set PRISMA_SCHEMA_ENGINE_BINARY)',
    );
  }

  let applied: string[];
  if (schemaEngine !== undefined) {
    log(`Migrating ${describeTarget(databaseUrl)} with prisma migrate deploy (${schemaEngine})`);
    applied = await applyWithPrisma(databaseUrl, folders, log);
  } else {
    log(`Migrating ${describeTarget(databaseUrl)} with the built-in applier (no Prisma schema engine here)`);
    applied = await applyBuiltin(databaseUrl, folders, log);
  }
  log(applied.length === 0 ? 'No pending migrations' : `Applied ${applied.length} migration(s)`);
  return { applied };
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  await applyMigrations(databaseUrl, { log: (line) => console.log(line) });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof MigrationError ? `${err.name} [${err.code}]: ${err.message}` : err);
    process.exitCode = 1;
  });
}
