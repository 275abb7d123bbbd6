// Proves prisma/schema.prisma and prisma/migrations describe the same database, and that
// scripts/migrate.ts keeps `_prisma_migrations` the way Prisma Migrate does.
// Needs the PostgreSQL server from DATABASE_URL (default 127.0.0.1:5432); every database it
// touches is a throwaway one it creates and drops.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import {
  DEFAULT_DATABASE_URL,
  MigrationError,
  applyMigrations,
  migrationChecksum,
  readMigrationFolders,
  scriptMatchesChecksum,
} from '../../scripts/migrate';
import { diffCatalogs, expectedCatalog, readCatalog } from '../support/schema-catalog';

const ROOT = path.resolve(__dirname, '..', '..');
const SCHEMA_FILE = path.join(ROOT, 'prisma', 'schema.prisma');
const MIGRATIONS_DIR = path.join(ROOT, 'prisma', 'migrations');
const schemaText = readFileSync(SCHEMA_FILE, 'utf8');
const migrationFolders = readMigrationFolders(MIGRATIONS_DIR);
const migrationNames = migrationFolders.map((folder) => folder.name);

const serverUrl = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
serverUrl.search = '';

const createdDatabases: string[] = [];
const tempDirs: string[] = [];

/** A URL for a database that does not exist yet; applyMigrations creates it, after() drops it. */
function throwawayDatabaseUrl(purpose: string): string {
  const name = `smsrouter_${purpose}_${randomBytes(4).toString('hex')}`;
  createdDatabases.push(name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(databaseUrl: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A copy of prisma/migrations to edit without touching the real one. */
function copyOfMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'smsrouter-migrations-'));
  tempDirs.push(dir);
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

/** Replaces exactly one occurrence, so an edit that no longer applies fails loudly instead of testing nothing. */
function replaceOnce(text: string, search: string, replacement: string): string {
  const first = text.indexOf(search);
  assert.notEqual(first, -1, `expected to find ${JSON.stringify(search)}`);
  assert.equal(text.indexOf(search, first + 1), -1, `expected ${JSON.stringify(search)} only once`);
  return text.slice(0, first) + replacement + text.slice(first + search.length);
}

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
  rolled_back_at: Date | null;
}

function readMigrationRows(databaseUrl: string): Promise<MigrationRow[]> {
  return withClient(databaseUrl, async (client) => {
    const result = await client.query<MigrationRow>(
      `SELECT id, checksum, migration_name, finished_at, logs, applied_steps_count, rolled_back_at
       FROM _prisma_migrations ORDER BY started_at`,
    );
    return result.rows;
  });
}

function isMigrationError(code: MigrationError['code'], migrationName: string | undefined): (err: unknown) => boolean {
  return (err: unknown): boolean => {
    assert.ok(err instanceof MigrationError, `expected a MigrationError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.migrationName, migrationName);
    if (migrationName !== undefined) assert.match(err.message, new RegExp(migrationName));
    return true;
  };
}

after(async () => {
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  await withClient(admin.toString(), async (client) => {
    for (const name of createdDatabases) {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// The database every schema comparison reads; migrated once, by whichever path this machine has.
const mainUrl = throwawayDatabaseUrl('schema');
let mainApplied: string[] = [];

test('applyMigrations creates a missing database and applies every migration in order', async () => {
  ({ applied: mainApplied } = await applyMigrations(mainUrl));
  assert.deepEqual(mainApplied, migrationNames);
});

test('the migrations build exactly the schema schema.prisma describes', async () => {
  assert.deepEqual(mainApplied, migrationNames, 'depends on the first test');
  const actual = await withClient(mainUrl, (client) => readCatalog(client));
  assert.deepEqual(diffCatalogs(expectedCatalog(schemaText), actual), []);
});

test('the comparison catches schema.prisma changing without a migration', async () => {
  const actual = await withClient(mainUrl, (client) => readCatalog(client));
  const cases: { change: string; edit: (schema: string) => string; mismatches: string[] }[] = [
    {
      change: 'field removed',
      edit: (schema) => replaceOnce(schema, '  callbackUrl       String?\n', ''),
      mismatches: ['column Message.callbackUrl: in the database but not in schema.prisma'],
    },
    {
      change: 'field added',
      edit: (schema) => replaceOnce(schema, '  callbackUrl       String?\n', '  callbackUrl       String?\n  tag String?\n'),
      mismatches: ['column Message.tag: missing from the database'],
    },
    {
      change: 'type changed',
      edit: (schema) => replaceOnce(schema, '  tps               Int\n', '  tps               BigInt\n'),
      mismatches: ['column Provider.tps: type is "integer" in the database, schema.prisma implies "bigint"'],
    },
    {
      change: 'decimal scale changed',
      edit: (schema) => replaceOnce(schema, '@db.Decimal(12, 6)', '@db.Decimal(12, 4)'),
      mismatches: ['column Route.price: type is "numeric(12,6)" in the database, schema.prisma implies "numeric(12,4)"'],
    },
    {
      change: 'optional field made required',
      edit: (schema) => replaceOnce(schema, '  label     String?\n', '  label     String\n'),
      mismatches: ['column ApiKey.label: nullable is true in the database, schema.prisma implies false'],
    },
    {
      change: 'default changed',
      edit: (schema) => replaceOnce(schema, '@default(172800)', '@default(86400)'),
      mismatches: ['column Provider.dlrTimeoutSeconds: default is "172800" in the database, schema.prisma implies "86400"'],
    },
    {
      change: 'index columns changed',
      edit: (schema) => replaceOnce(schema, '  @@index([prefix])\n', '  @@index([prefix, priority])\n'),
      mismatches: [
        'index Route_prefix_idx: in the database but not in schema.prisma',
        'index Route_prefix_priority_idx: missing from the database',
      ],
    },
    {
      change: 'unique turned into a plain index',
      edit: (schema) => replaceOnce(schema, '  @@unique([messageId, sequence])\n', '  @@index([messageId, sequence])\n'),
      mismatches: [
        'index MessageEvent_messageId_sequence_idx: missing from the database',
        'index MessageEvent_messageId_sequence_key: in the database but not in schema.prisma',
      ],
    },
    {
      change: 'required relation made optional',
      edit: (schema) =>
        replaceOnce(
          replaceOnce(schema, '  providerId String\n', '  providerId String?\n'),
          'provider   Provider @relation',
          'provider   Provider? @relation',
        ),
      mismatches: [
        'column Route.providerId: nullable is false in the database, schema.prisma implies true',
        'constraint Route.Route_providerId_fkey: onDelete is "RESTRICT" in the database, schema.prisma implies "SET NULL"',
      ],
    },
    {
      change: 'explicit onDelete',
      edit: (schema) =>
        replaceOnce(schema, '@relation(fields: [messageId], references: [id])', '@relation(fields: [messageId], references: [id], onDelete: Cascade)'),
      mismatches: [
        'constraint MessageEvent.MessageEvent_messageId_fkey: onDelete is "RESTRICT" in the database, schema.prisma implies "CASCADE"',
      ],
    },
    {
      change: 'enum value added',
      edit: (schema) => replaceOnce(schema, '  at_least_once\n', '  at_least_once\n  exactly_once\n'),
      mismatches: [
        'enum DeliveryGuarantee: values is ["at_most_once","at_least_once"] in the database, schema.prisma implies ["at_most_once","at_least_once","exactly_once"]',
      ],
    },
    {
      change: 'model added',
      edit: (schema) => `${schema}\nmodel Extra {\n  id BigInt @id @default(autoincrement())\n}\n`,
      mismatches: [
        'column Extra.id: missing from the database',
        'constraint Extra.Extra_pkey: missing from the database',
        'index Extra_pkey: missing from the database',
        'sequence Extra_id_seq: missing from the database',
        'table Extra: missing from the database',
      ],
    },
  ];

  for (const { change, edit, mismatches } of cases) {
    assert.deepEqual(diffCatalogs(expectedCatalog(edit(schemaText)), actual), [...mismatches].sort(), change);
  }
});

test('the comparison catches a migration changing without schema.prisma', async () => {
  const dir = copyOfMigrations();
  const [first] = migrationNames;
  assert.ok(first !== undefined);
  const file = path.join(dir, first, 'migration.sql');
  let sql = readFileSync(file, 'utf8');
  sql = replaceOnce(sql, 'CREATE INDEX "Route_prefix_idx" ON "Route"("prefix");', '');
  sql = replaceOnce(sql, '"weight" INTEGER NOT NULL DEFAULT 1,', '"weight" INTEGER NOT NULL DEFAULT 2,');
  sql = replaceOnce(sql, '"payload" JSONB NOT NULL,', '"payload" JSON NOT NULL,');
  sql = replaceOnce(sql, '"name" TEXT NOT NULL,\n    "createdAt"', '"name" TEXT NOT NULL,\n    "note" TEXT,\n    "createdAt"');
  sql = replaceOnce(
    sql,
    'REFERENCES "Account"("id") ON DELETE SET NULL ON UPDATE CASCADE',
    'REFERENCES "Account"("id") ON DELETE CASCADE ON UPDATE CASCADE',
  );
  sql = replaceOnce(sql, "'cancelled');", "'canceled');");
  writeFileSync(file, sql);

  const url = throwawayDatabaseUrl('schema_edited');
  await applyMigrations(url, { migrationsDir: dir, engine: 'builtin' });
  const actual = await withClient(url, (client) => readCatalog(client));

  assert.deepEqual(diffCatalogs(expectedCatalog(schemaText), actual), [
    'column Account.note: in the database but not in schema.prisma',
    'column DeliveryReport.payload: type is "json" in the database, schema.prisma implies "jsonb"',
    'column Route.weight: default is "2" in the database, schema.prisma implies "1"',
    'constraint Route.Route_accountId_fkey: onDelete is "CASCADE" in the database, schema.prisma implies "SET NULL"',
    'enum MessageStatus: values is ["accepted","scheduled","routed","submitted","attempt_failed","enroute","buffered","delivered","undelivered","rejected","expired","failed","unknown","canceled"] in the database, schema.prisma implies ["accepted","scheduled","routed","submitted","attempt_failed","enroute","buffered","delivered","undelivered","rejected","expired","failed","unknown","cancelled"]',
    'index Route_prefix_idx: missing from the database',
  ]);
});

test('a second run applies nothing', async () => {
  assert.deepEqual(mainApplied, migrationNames, 'depends on the first test');
  assert.deepEqual(await applyMigrations(mainUrl), { applied: [] });
  assert.deepEqual(await applyMigrations(mainUrl, { engine: 'builtin' }), { applied: [] });
  assert.equal((await readMigrationRows(mainUrl)).length, migrationNames.length);
});

test('_prisma_migrations has Prisma\'s layout and one finished row per migration', async () => {
  const url = throwawayDatabaseUrl('history');
  const lines: string[] = [];
  const { applied } = await applyMigrations(url, { engine: 'builtin', log: (line) => lines.push(line) });
  assert.deepEqual(applied, migrationNames);
  assert.ok(lines.some((line) => line.startsWith('Created database')), lines.join('\n'));

  const layout = await withClient(url, async (client) => {
    const result = await client.query<{
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      is_nullable: string;
      column_default: string | null;
    }>(
      `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '_prisma_migrations'
       ORDER BY ordinal_position`,
    );
    const primaryKey = await client.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE conrelid = '_prisma_migrations'::regclass AND contype = 'p'`,
    );
    return { columns: result.rows, primaryKey: primaryKey.rows.map((row) => row.conname) };
  });
  assert.deepEqual(layout.columns, [
    { column_name: 'id', data_type: 'character varying', character_maximum_length: 36, is_nullable: 'NO', column_default: null },
    { column_name: 'checksum', data_type: 'character varying', character_maximum_length: 64, is_nullable: 'NO', column_default: null },
    { column_name: 'finished_at', data_type: 'timestamp with time zone', character_maximum_length: null, is_nullable: 'YES', column_default: null },
    { column_name: 'migration_name', data_type: 'character varying', character_maximum_length: 255, is_nullable: 'NO', column_default: null },
    { column_name: 'logs', data_type: 'text', character_maximum_length: null, is_nullable: 'YES', column_default: null },
    { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', character_maximum_length: null, is_nullable: 'YES', column_default: null },
    { column_name: 'started_at', data_type: 'timestamp with time zone', character_maximum_length: null, is_nullable: 'NO', column_default: 'now()' },
    { column_name: 'applied_steps_count', data_type: 'integer', character_maximum_length: null, is_nullable: 'NO', column_default: '0' },
  ]);
  assert.deepEqual(layout.primaryKey, ['_prisma_migrations_pkey']);

  const rows = await readMigrationRows(url);
  assert.deepEqual(
    rows.map((row) => row.migration_name),
    migrationNames,
  );
  for (const row of rows) {
    const file = path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql');
    const expectedChecksum = migrationChecksum(readFileSync(file));
    assert.match(expectedChecksum, /^[0-9a-f]{64}$/);
    assert.equal(row.checksum, expectedChecksum, row.migration_name);
    assert.ok(row.finished_at instanceof Date, `${row.migration_name} finished_at`);
    assert.equal(row.applied_steps_count, 1);
    assert.equal(row.rolled_back_at, null);
    assert.equal(row.logs, null);
    assert.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

test('a tampered checksum or a failed record stops the applier', async () => {
  const url = throwawayDatabaseUrl('tampered');
  await applyMigrations(url, { engine: 'builtin' });
  const [first] = migrationNames;
  assert.ok(first !== undefined);

  await withClient(url, (client) =>
    client.query(`UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2`, ['0'.repeat(64), first]),
  );
  // 'auto' too: `prisma migrate deploy` alone would only warn, the preflight makes both refuse.
  await assert.rejects(applyMigrations(url, { engine: 'builtin' }), isMigrationError('checksum_mismatch', first));
  await assert.rejects(applyMigrations(url), isMigrationError('checksum_mismatch', first));

  const original = migrationFolders[0]?.checksum ?? '';
  await withClient(url, (client) =>
    client.query(`UPDATE _prisma_migrations SET checksum = $1, finished_at = NULL WHERE migration_name = $2`, [original, first]),
  );
  await assert.rejects(applyMigrations(url, { engine: 'builtin' }), isMigrationError('failed_migration_recorded', first));
  assert.equal((await readMigrationRows(url)).length, migrationNames.length, 'nothing was re-run');
});

test('checksums match across line endings like Prisma\'s', () => {
  const unix = Buffer.from('CREATE TABLE a ();\nCREATE TABLE b ();\n');
  const windows = Buffer.from('CREATE TABLE a ();\r\nCREATE TABLE b ();\r\n');
  assert.equal(migrationChecksum('hello'), '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  assert.ok(scriptMatchesChecksum(unix, migrationChecksum(windows)));
  assert.ok(scriptMatchesChecksum(windows, migrationChecksum(unix)));
  assert.ok(!scriptMatchesChecksum(Buffer.from('abc\n'), migrationChecksum('abc')));
});

test('a failing migration is rolled back whole, recorded as failed, and blocks later runs', async () => {
  const dir = copyOfMigrations();
  const broken = '29991231000000_broken';
  mkdirSync(path.join(dir, broken));
  writeFileSync(
    path.join(dir, broken, 'migration.sql'),
    'CREATE TABLE "Half" ("id" TEXT NOT NULL);\nALTER TABLE "Account" ADD COLUMN "half" TEXT;\nSELECT 1 / 0;\n',
  );

  const url = throwawayDatabaseUrl('broken');
  await assert.rejects(applyMigrations(url, { migrationsDir: dir, engine: 'builtin' }), isMigrationError('migration_failed', broken));

  const leftovers = await withClient(url, async (client) => {
    const result = await client.query<{ half_table: string | null; half_column: number }>(
      `SELECT to_regclass('"Half"')::text AS half_table,
              (SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'Account' AND column_name = 'half') AS half_column`,
    );
    return result.rows[0];
  });
  assert.deepEqual(leftovers, { half_table: null, half_column: 0 });

  const rows = await readMigrationRows(url);
  assert.deepEqual(rows.map((row) => row.migration_name), [...migrationNames, broken]);
  const failed = rows[rows.length - 1];
  assert.ok(failed !== undefined);
  assert.equal(failed.finished_at, null);
  assert.equal(failed.rolled_back_at, null);
  assert.equal(failed.applied_steps_count, 0);
  assert.match(failed.logs ?? '', /division by zero/);

  await assert.rejects(
    applyMigrations(url, { migrationsDir: dir, engine: 'builtin' }),
    isMigrationError('failed_migration_recorded', broken),
  );
});

test('two starters racing on a fresh database apply each migration once', async () => {
  const url = throwawayDatabaseUrl('race');
  const results = await Promise.all([
    applyMigrations(url, { engine: 'builtin' }),
    applyMigrations(url, { engine: 'builtin' }),
  ]);
  assert.deepEqual(results.flatMap((result) => result.applied).sort(), [...migrationNames].sort());
  assert.deepEqual((await readMigrationRows(url)).map((row) => row.migration_name), migrationNames);
});
