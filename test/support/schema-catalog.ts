// Two views of one PostgreSQL schema, in the same shape so they can be diffed:
//   - expectedCatalog(): what `prisma migrate dev` would create for a schema.prisma, derived
//     from Prisma's own DMMF and its naming and default rules (psl's ConstraintNames, the
//     Postgres flavour of sql-schema-connector);
//   - readCatalog(): what a live database actually contains.
// Anything this module does not know how to predict throws SchemaCatalogError rather than
// being skipped, so a new schema feature cannot slip past the migration check unverified.

import { get_dmmf } from '@prisma/prisma-schema-wasm';
import type { Client } from 'pg';

export class SchemaCatalogError extends Error {
  override readonly name = 'SchemaCatalogError';
}

// ---------------------------------------------------------------------------------------
// Catalog shape

export interface ColumnShape {
  /** information_schema spelling, with precision where it matters: 'timestamp(3) without time zone', 'numeric(12,6)', 'USER-DEFINED(MessageStatus)'. */
  type: string;
  nullable: boolean;
  /** Normalised default expression, or null for none. */
  default: string | null;
}

export interface IndexShape {
  table: string;
  /** Column names in key order, suffixed ' DESC' / ' NULLS FIRST' when not the default ordering. */
  columns: string[];
  unique: boolean;
  primary: boolean;
  method: string;
  predicate: string | null;
}

export type ConstraintKind = 'primary key' | 'foreign key' | 'unique' | 'check' | 'exclusion' | 'other';

export interface ConstraintShape {
  table: string;
  kind: ConstraintKind;
  columns: string[];
  referencedTable: string | null;
  referencedColumns: string[] | null;
  onDelete: string | null;
  onUpdate: string | null;
}

export interface SchemaCatalog {
  tables: Set<string>;
  /** Keyed "Table.column". */
  columns: Map<string, ColumnShape>;
  /** Keyed by index name (unique per schema in Postgres). */
  indexes: Map<string, IndexShape>;
  /** Keyed "Table.constraint" (constraint names are only unique per table). */
  constraints: Map<string, ConstraintShape>;
  /** Enum name to labels in sort order. */
  enums: Map<string, string[]>;
  sequences: Set<string>;
}

function emptyCatalog(): SchemaCatalog {
  return {
    tables: new Set(),
    columns: new Map(),
    indexes: new Map(),
    constraints: new Map(),
    enums: new Map(),
    sequences: new Set(),
  };
}

// ---------------------------------------------------------------------------------------
// DMMF (the subset we read)

interface DmmfFunctionDefault {
  name: string;
  args: unknown[];
}

type DmmfDefault = DmmfFunctionDefault | string | number | boolean | unknown[];

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  isList: boolean;
  isRequired: boolean;
  isId: boolean;
  hasDefaultValue: boolean;
  default?: DmmfDefault;
  type: string;
  nativeType: [string, string[]] | null;
  isUpdatedAt: boolean;
  relationName?: string;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}

interface DmmfEnum {
  name: string;
  dbName?: string | null;
  values: { name: string; dbName: string | null }[];
}

interface DmmfIndexField {
  name: string;
  sortOrder?: 'asc' | 'desc';
  length?: number;
  operatorClass?: string;
}

interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  dbName?: string | null;
  algorithm?: string;
  fields: DmmfIndexField[];
}

interface DmmfDatamodel {
  models: DmmfModel[];
  enums: DmmfEnum[];
  indexes: DmmfIndex[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFunctionDefault(value: DmmfDefault | undefined): value is DmmfFunctionDefault {
  return isRecord(value) && typeof value.name === 'string' && Array.isArray(value.args);
}

/** Parses schema text with Prisma's own parser (the same Wasm build the CLI uses). */
export function loadDatamodel(schemaText: string): DmmfDatamodel {
  let raw: string;
  try {
    raw = get_dmmf(JSON.stringify({ prismaSchema: schemaText }));
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\u001b\[[0-9;]*m/g, '');
    throw new SchemaCatalogError(`schema.prisma does not validate: ${message}`);
  }
  const parsed: unknown = JSON.parse(raw);
  const datamodel = isRecord(parsed) ? parsed.datamodel : undefined;
  if (
    !isRecord(datamodel) ||
    !Array.isArray(datamodel.models) ||
    !Array.isArray(datamodel.enums) ||
    !Array.isArray(datamodel.indexes)
  ) {
    throw new SchemaCatalogError('get_dmmf returned an unexpected document (Prisma version change?)');
  }
  // The Wasm module is pinned to the CLI's version; checking the three arrays is enough to
  // catch a format change, the field-level layout is Prisma's documented DMMF.
  return datamodel as unknown as DmmfDatamodel;
}

// ---------------------------------------------------------------------------------------
// Prisma's naming rules for PostgreSQL (psl ConstraintNames, 63-byte identifiers)

const MAX_IDENTIFIER_BYTES = 63;

function truncateBytes(text: string, maxBytes: number): string {
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (used + size > maxBytes) break;
    out += char;
    used += size;
  }
  return out;
}

function withSuffix(base: string, suffix: string): string {
  const limit = MAX_IDENTIFIER_BYTES - suffix.length;
  return `${Buffer.byteLength(base) >= limit ? truncateBytes(base, limit) : base}${suffix}`;
}

export const prismaNames = {
  primaryKey: (table: string): string => withSuffix(table, '_pkey'),
  uniqueIndex: (table: string, columns: readonly string[]): string => withSuffix(`${table}_${columns.join('_')}`, '_key'),
  index: (table: string, columns: readonly string[]): string => withSuffix(`${table}_${columns.join('_')}`, '_idx'),
  foreignKey: (table: string, columns: readonly string[]): string => withSuffix(`${table}_${columns.join('_')}`, '_fkey'),
  // Postgres names a serial's sequence itself; it only shortens names beyond 63 bytes, which
  // we have no tables near.
  sequence: (table: string, column: string): string => `${table}_${column}_seq`,
};

// ---------------------------------------------------------------------------------------
// DMMF -> expected catalog

const DEFAULT_SCALAR_TYPES: Readonly<Record<string, string>> = {
  String: 'text',
  Boolean: 'boolean',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};

// udt_name of the element type, as information_schema reports arrays ('ARRAY(_text)').
const ARRAY_ELEMENT_UDT: Readonly<Record<string, string>> = {
  text: 'text',
  boolean: 'bool',
  integer: 'int4',
  bigint: 'int8',
  smallint: 'int2',
  'double precision': 'float8',
  real: 'float4',
  jsonb: 'jsonb',
  json: 'json',
  bytea: 'bytea',
  uuid: 'uuid',
  date: 'date',
};

function nativeColumnType(field: DmmfField): string {
  if (field.nativeType === null) {
    const type = DEFAULT_SCALAR_TYPES[field.type];
    if (type === undefined) throw new SchemaCatalogError(`no Postgres type known for ${field.type} (field ${field.name})`);
    return type;
  }
  const [name, args] = field.nativeType;
  const arg = (index: number, fallback: string): string => args[index] ?? fallback;
  switch (name) {
    case 'Text':
      return 'text';
    case 'VarChar':
      return args.length > 0 ? `character varying(${arg(0, '')})` : 'character varying';
    case 'Char':
      return `character(${arg(0, '1')})`;
    case 'Uuid':
      return 'uuid';
    case 'Xml':
      return 'xml';
    case 'Inet':
      return 'inet';
    case 'Citext':
      return 'USER-DEFINED(citext)';
    case 'Integer':
      return 'integer';
    case 'SmallInt':
      return 'smallint';
    case 'BigInt':
      return 'bigint';
    case 'Oid':
      return 'oid';
    case 'DoublePrecision':
      return 'double precision';
    case 'Real':
      return 'real';
    case 'Decimal':
      return args.length > 0 ? `numeric(${arg(0, '')},${arg(1, '0')})` : 'numeric';
    case 'Money':
      return 'money';
    case 'Boolean':
      return 'boolean';
    case 'Timestamp':
      return `timestamp(${arg(0, '6')}) without time zone`;
    case 'Timestamptz':
      return `timestamp(${arg(0, '6')}) with time zone`;
    case 'Time':
      return `time(${arg(0, '6')}) without time zone`;
    case 'Timetz':
      return `time(${arg(0, '6')}) with time zone`;
    case 'Date':
      return 'date';
    case 'Json':
      return 'json';
    case 'JsonB':
      return 'jsonb';
    case 'ByteA':
      return 'bytea';
    default:
      throw new SchemaCatalogError(`@db.${name} on ${field.name} is not mapped in test/support/schema-catalog.ts`);
  }
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** One spelling for numbers whatever Postgres or the DMMF made of them ('2.50', 2.5, '+2.5'). */
function canonicalNumber(text: string): string {
  let out = text.trim().replace(/^\+/, '');
  if (out.includes('.') && !/e/i.test(out)) out = out.replace(/0+$/, '').replace(/\.$/, '');
  return out;
}

interface ModelContext {
  model: DmmfModel;
  table: string;
  enumsByName: ReadonlyMap<string, DmmfEnum>;
}

function expectedDefault(context: ModelContext, field: DmmfField, column: string): string | null {
  if (!field.hasDefaultValue || field.default === undefined) return null;
  const value = field.default;
  const where = `${context.model.name}.${field.name}`;

  if (Array.isArray(value)) throw new SchemaCatalogError(`list default on ${where} is not mapped`);
  if (isFunctionDefault(value)) {
    const fn = value;
    switch (fn.name) {
      case 'autoincrement':
        return `nextval(${prismaNames.sequence(context.table, column)})`;
      case 'now':
        return 'CURRENT_TIMESTAMP';
      // Generated by Prisma Client, never by the database.
      case 'uuid':
      case 'cuid':
      case 'nanoid':
      case 'ulid':
        return null;
      case 'dbgenerated': {
        const sql = fn.args[0];
        if (typeof sql !== 'string') throw new SchemaCatalogError(`dbgenerated() without SQL on ${where} cannot be checked`);
        // Must be written the way Postgres prints it back (pg_get_expr), e.g. gen_random_uuid().
        return sql.trim();
      }
      default:
        throw new SchemaCatalogError(`@default(${fn.name}()) on ${where} is not mapped`);
    }
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return canonicalNumber(String(value));
  if (field.kind === 'enum') {
    const enumDef = context.enumsByName.get(field.type);
    const dbValue = enumDef?.values.find((candidate) => candidate.name === value)?.dbName ?? value;
    return quoteLiteral(dbValue);
  }
  if (field.type === 'String' || field.type === 'Json') return quoteLiteral(value);
  if (field.type === 'Decimal' || field.type === 'BigInt') return canonicalNumber(value);
  throw new SchemaCatalogError(`literal default on ${field.type} field ${where} is not mapped`);
}

function columnType(context: ModelContext, field: DmmfField): string {
  if (field.kind === 'unsupported') {
    throw new SchemaCatalogError(`Unsupported("${field.type}") on ${context.model.name}.${field.name} is not mapped`);
  }
  if (field.kind === 'enum') {
    const enumDef = context.enumsByName.get(field.type);
    const enumName = enumDef?.dbName ?? field.type;
    return field.isList ? `ARRAY(_${enumName})` : `USER-DEFINED(${enumName})`;
  }
  const base = nativeColumnType(field);
  if (!field.isList) return base;
  const element = ARRAY_ELEMENT_UDT[base] ?? (/^timestamp\(\d+\) without/.test(base) ? 'timestamp' : undefined);
  if (element === undefined) throw new SchemaCatalogError(`list of ${base} on ${context.model.name}.${field.name} is not mapped`);
  return `ARRAY(_${element})`;
}

const REFERENTIAL_ACTIONS: Readonly<Record<string, string>> = {
  Cascade: 'CASCADE',
  Restrict: 'RESTRICT',
  NoAction: 'NO ACTION',
  SetNull: 'SET NULL',
  SetDefault: 'SET DEFAULT',
};

function referentialAction(action: string, where: string): string {
  const sql = REFERENTIAL_ACTIONS[action];
  if (sql === undefined) throw new SchemaCatalogError(`referential action ${action} on ${where} is not mapped`);
  return sql;
}

/** The schema `prisma migrate dev` would produce for this schema.prisma text. */
export function expectedCatalog(schemaText: string): SchemaCatalog {
  const datamodel = loadDatamodel(schemaText);
  const catalog = emptyCatalog();

  const enumsByName = new Map(datamodel.enums.map((enumDef) => [enumDef.name, enumDef]));
  const modelsByName = new Map(datamodel.models.map((model) => [model.name, model]));
  const tableOf = (model: DmmfModel): string => model.dbName ?? model.name;
  const columnOf = (model: DmmfModel, fieldName: string): string => {
    const field = model.fields.find((candidate) => candidate.name === fieldName);
    if (field === undefined) throw new SchemaCatalogError(`${model.name} has no field ${fieldName}`);
    return field.dbName ?? field.name;
  };
  const modelNamed = (name: string): DmmfModel => {
    const model = modelsByName.get(name);
    if (model === undefined) throw new SchemaCatalogError(`DMMF names unknown model ${name}`);
    return model;
  };

  for (const enumDef of datamodel.enums) {
    catalog.enums.set(
      enumDef.dbName ?? enumDef.name,
      enumDef.values.map((value) => value.dbName ?? value.name),
    );
  }

  for (const model of datamodel.models) {
    const table = tableOf(model);
    const context: ModelContext = { model, table, enumsByName };
    catalog.tables.add(table);

    for (const field of model.fields) {
      if (field.kind === 'object') {
        const fromFields = field.relationFromFields ?? [];
        if (fromFields.length === 0) {
          const related = modelNamed(field.type);
          const opposite = related.fields.find(
            (candidate) => candidate.relationName === field.relationName && candidate !== field,
          );
          // The back side of a one-to-x relation owns no columns; an implicit many-to-many
          // gets a hidden join table that this module does not model.
          if (field.isList && opposite?.isList === true) {
            throw new SchemaCatalogError(`implicit many-to-many ${field.relationName} is not mapped`);
          }
          continue;
        }
        const related = modelNamed(field.type);
        const columns = fromFields.map((name) => columnOf(model, name));
        const where = `${model.name}.${field.name}`;
        // Prisma's defaults: a required relation must not lose its parent, an optional one
        // forgets it; key changes always follow the parent.
        const onDelete = field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull');
        const onUpdate = field.relationOnUpdate ?? 'Cascade';
        // DMMF does not carry @relation(map: ...), so a custom FK name shows up as a mismatch.
        catalog.constraints.set(`${table}.${prismaNames.foreignKey(table, columns)}`, {
          table,
          kind: 'foreign key',
          columns,
          referencedTable: tableOf(related),
          referencedColumns: (field.relationToFields ?? []).map((name) => columnOf(related, name)),
          onDelete: referentialAction(onDelete, where),
          onUpdate: referentialAction(onUpdate, where),
        });
        continue;
      }

      const column = field.dbName ?? field.name;
      catalog.columns.set(`${table}.${column}`, {
        type: columnType(context, field),
        // Prisma creates scalar lists without NOT NULL.
        nullable: field.isList || !field.isRequired,
        default: expectedDefault(context, field, column),
      });
      if (isFunctionDefault(field.default) && field.default.name === 'autoincrement') {
        catalog.sequences.add(prismaNames.sequence(table, column));
      }
    }
  }

  for (const index of datamodel.indexes) {
    const model = modelNamed(index.model);
    const table = tableOf(model);
    const plainColumns = index.fields.map((field) => columnOf(model, field.name));
    const keyColumns = index.fields.map((field) => {
      if (field.operatorClass !== undefined || field.length !== undefined) {
        throw new SchemaCatalogError(`ops/length on index of ${model.name} is not mapped`);
      }
      const column = columnOf(model, field.name);
      return field.sortOrder === 'desc' ? `${column} DESC` : column;
    });
    const method = (index.algorithm ?? 'BTree').toLowerCase();

    let name: string;
    switch (index.type) {
      case 'id':
        name = index.dbName ?? prismaNames.primaryKey(table);
        catalog.constraints.set(`${table}.${name}`, {
          table,
          kind: 'primary key',
          columns: plainColumns,
          referencedTable: null,
          referencedColumns: null,
          onDelete: null,
          onUpdate: null,
        });
        break;
      case 'unique':
        name = index.dbName ?? prismaNames.uniqueIndex(table, plainColumns);
        break;
      case 'normal':
        name = index.dbName ?? prismaNames.index(table, plainColumns);
        break;
      default:
        throw new SchemaCatalogError(`@@${index.type} on ${model.name} does not exist on PostgreSQL`);
    }
    catalog.indexes.set(name, {
      table,
      columns: keyColumns,
      unique: index.type !== 'normal',
      primary: index.type === 'id',
      method,
      predicate: null,
    });
  }

  return catalog;
}

// ---------------------------------------------------------------------------------------
// Live database -> catalog

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  is_identity: 'YES' | 'NO';
  character_maximum_length: number | null;
  numeric_precision: number | null;
  numeric_scale: number | null;
  datetime_precision: number | null;
}

interface IndexKeyRow {
  table_name: string;
  index_name: string;
  is_unique: boolean;
  is_primary: boolean;
  method: string;
  predicate: string | null;
  attname: string | null;
  option: number;
}

interface ConstraintRow {
  table_name: string;
  constraint_name: string;
  contype: string;
  columns: string[];
  referenced_table: string | null;
  referenced_columns: string[] | null;
  confdeltype: string;
  confupdtype: string;
}

function formatColumnType(row: ColumnRow): string {
  switch (row.data_type) {
    case 'USER-DEFINED':
      return `USER-DEFINED(${row.udt_name})`;
    case 'ARRAY':
      return `ARRAY(${row.udt_name})`;
    case 'numeric':
      return row.numeric_precision === null ? 'numeric' : `numeric(${row.numeric_precision},${row.numeric_scale ?? 0})`;
    case 'character varying':
    case 'character':
    case 'bit':
    case 'bit varying':
      return row.character_maximum_length === null
        ? row.data_type
        : `${row.data_type}(${row.character_maximum_length})`;
    case 'timestamp without time zone':
    case 'timestamp with time zone':
    case 'time without time zone':
    case 'time with time zone':
      return row.data_type.replace(/^(timestamp|time)/, `$1(${row.datetime_precision ?? 6})`);
    default:
      return row.data_type;
  }
}

const NUMERIC_CASTS = /^(integer|bigint|smallint|numeric|real|double precision)$/;

/** Makes Postgres's stored default comparable with what expectedDefault() predicts. */
export function normalizeDefault(raw: string | null): string | null {
  if (raw === null) return null;
  let text = raw.trim();

  const sequence = /^nextval\('(.+)'::regclass\)$/.exec(text);
  if (sequence?.[1] !== undefined) {
    const name = sequence[1].replace(/^"(.*)"$/, '$1').replace(/""/g, '"');
    return `nextval(${name})`;
  }

  // A literal with a cast, e.g. 'x'::text, 'at_most_once'::"DeliveryGuarantee", '-1'::integer.
  const cast = /^('(?:[^']|'')*')::(.+)$/.exec(text);
  if (cast?.[1] !== undefined && cast[2] !== undefined) {
    const literal = cast[1];
    if (NUMERIC_CASTS.test(cast[2])) return canonicalNumber(literal.slice(1, -1));
    return literal;
  }

  // Negative numbers come back parenthesised.
  text = text.replace(/^\((-[\d.]+)\)$/, '$1');
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return canonicalNumber(text);
  return text;
}

const ACTION_CODES: Readonly<Record<string, string>> = {
  a: 'NO ACTION',
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
};

const CONSTRAINT_KINDS: Readonly<Record<string, ConstraintKind>> = {
  p: 'primary key',
  f: 'foreign key',
  u: 'unique',
  c: 'check',
  x: 'exclusion',
};

/**
 * Reads one schema of the connected database. Tables named in `ignoreTables` (Prisma's own
 * bookkeeping) are left out together with their columns, indexes and constraints.
 */
export async function readCatalog(
  client: Client,
  schema = 'public',
  ignoreTables: readonly string[] = ['_prisma_migrations'],
): Promise<SchemaCatalog> {
  const catalog = emptyCatalog();
  const ignored = new Set(ignoreTables);

  const tables = await client.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
    [schema],
  );
  for (const row of tables.rows) if (!ignored.has(row.table_name)) catalog.tables.add(row.table_name);

  const columns = await client.query<ColumnRow>(
    `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, is_identity,
            character_maximum_length, numeric_precision, numeric_scale, datetime_precision
     FROM information_schema.columns WHERE table_schema = $1
     ORDER BY table_name, ordinal_position`,
    [schema],
  );
  for (const row of columns.rows) {
    // information_schema.columns also lists views' columns; tables.rows has only base tables.
    if (!catalog.tables.has(row.table_name)) continue;
    catalog.columns.set(`${row.table_name}.${row.column_name}`, {
      type: formatColumnType(row),
      nullable: row.is_nullable === 'YES',
      // Prisma never creates identity columns; make one visible instead of "no default".
      default: row.is_identity === 'YES' ? 'GENERATED AS IDENTITY' : normalizeDefault(row.column_default),
    });
  }

  // indkey/indoption are int2vectors; unnesting both together keeps each column with its
  // DESC/NULLS FIRST flags without 0-based subscripts.
  const indexKeys = await client.query<IndexKeyRow>(
    `SELECT t.relname AS table_name, i.relname AS index_name, ix.indisunique AS is_unique,
            ix.indisprimary AS is_primary, am.amname AS method,
            pg_get_expr(ix.indpred, ix.indrelid) AS predicate,
            a.attname, k.option
     FROM pg_index ix
     JOIN pg_class i ON i.oid = ix.indexrelid
     JOIN pg_class t ON t.oid = ix.indrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     JOIN pg_am am ON am.oid = i.relam
     CROSS JOIN LATERAL unnest(ix.indkey::int2[], ix.indoption::int2[]) WITH ORDINALITY AS k(attnum, option, ord)
     LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum <> 0
     WHERE n.nspname = $1
     ORDER BY i.relname, k.ord`,
    [schema],
  );
  for (const row of indexKeys.rows) {
    if (!catalog.tables.has(row.table_name)) continue;
    const descending = (row.option & 1) !== 0;
    const nullsFirst = (row.option & 2) !== 0;
    let key = row.attname ?? '(expression)';
    if (descending) key += ' DESC';
    if (nullsFirst !== descending) key += nullsFirst ? ' NULLS FIRST' : ' NULLS LAST';
    const existing = catalog.indexes.get(row.index_name);
    if (existing !== undefined) {
      existing.columns.push(key);
      continue;
    }
    catalog.indexes.set(row.index_name, {
      table: row.table_name,
      columns: [key],
      unique: row.is_unique,
      primary: row.is_primary,
      method: row.method,
      predicate: row.predicate,
    });
  }

  const constraints = await client.query<ConstraintRow>(
    `SELECT t.relname AS table_name, c.conname AS constraint_name, c.contype::text AS contype,
            ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
            rt.relname::text AS referenced_table,
            CASE WHEN c.confrelid = 0 THEN NULL ELSE
              ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord)
            END AS referenced_columns,
            c.confdeltype::text AS confdeltype, c.confupdtype::text AS confupdtype
     FROM pg_constraint c
     JOIN pg_class t ON t.oid = c.conrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     LEFT JOIN pg_class rt ON rt.oid = c.confrelid
     WHERE n.nspname = $1 AND c.contype IN ('p', 'f', 'u', 'c', 'x')`,
    [schema],
  );
  for (const row of constraints.rows) {
    if (!catalog.tables.has(row.table_name)) continue;
    const foreign = row.contype === 'f';
    catalog.constraints.set(`${row.table_name}.${row.constraint_name}`, {
      table: row.table_name,
      kind: CONSTRAINT_KINDS[row.contype] ?? 'other',
      columns: row.columns,
      referencedTable: foreign ? row.referenced_table : null,
      referencedColumns: foreign ? row.referenced_columns : null,
      onDelete: foreign ? (ACTION_CODES[row.confdeltype] ?? row.confdeltype) : null,
      onUpdate: foreign ? (ACTION_CODES[row.confupdtype] ?? row.confupdtype) : null,
    });
  }

  const enums = await client.query<{ enum_name: string; labels: string[] }>(
    `SELECT t.typname::text AS enum_name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
     FROM pg_type t
     JOIN pg_enum e ON e.enumtypid = t.oid
     JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = $1
     GROUP BY t.typname`,
    [schema],
  );
  for (const row of enums.rows) catalog.enums.set(row.enum_name, row.labels);

  const sequences = await client.query<{ sequence_name: string; owner_table: string | null }>(
    `SELECT s.relname::text AS sequence_name, ot.relname::text AS owner_table
     FROM pg_class s
     JOIN pg_namespace n ON n.oid = s.relnamespace
     LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
     LEFT JOIN pg_class ot ON ot.oid = d.refobjid
     WHERE n.nspname = $1 AND s.relkind = 'S'`,
    [schema],
  );
  for (const row of sequences.rows) {
    if (row.owner_table !== null && ignored.has(row.owner_table)) continue;
    catalog.sequences.add(row.sequence_name);
  }

  return catalog;
}

// ---------------------------------------------------------------------------------------
// Diff

function show(value: unknown): string {
  return JSON.stringify(value);
}

function diffKeyed<T extends object>(
  label: string,
  expected: ReadonlyMap<string, T>,
  actual: ReadonlyMap<string, T>,
  out: string[],
): void {
  for (const [key, want] of expected) {
    const have = actual.get(key);
    if (have === undefined) {
      out.push(`${label} ${key}: missing from the database`);
      continue;
    }
    for (const property of Object.keys(want) as (keyof T & string)[]) {
      if (show(want[property]) !== show(have[property])) {
        out.push(
          `${label} ${key}: ${property} is ${show(have[property])} in the database, schema.prisma implies ${show(want[property])}`,
        );
      }
    }
  }
  for (const key of actual.keys()) {
    if (!expected.has(key)) out.push(`${label} ${key}: in the database but not in schema.prisma`);
  }
}

function asPresenceMap(names: ReadonlySet<string>): Map<string, Record<string, never>> {
  return new Map(Array.from(names, (name) => [name, {}]));
}

/**
 * Every way the database differs from what schema.prisma implies, one line each, sorted.
 * Empty means the migrations build exactly the schema Prisma expects.
 */
export function diffCatalogs(expected: SchemaCatalog, actual: SchemaCatalog): string[] {
  const out: string[] = [];
  diffKeyed('table', asPresenceMap(expected.tables), asPresenceMap(actual.tables), out);
  diffKeyed('column', expected.columns, actual.columns, out);
  diffKeyed('index', expected.indexes, actual.indexes, out);
  diffKeyed('constraint', expected.constraints, actual.constraints, out);
  diffKeyed(
    'enum',
    new Map(Array.from(expected.enums, ([name, values]) => [name, { values }])),
    new Map(Array.from(actual.enums, ([name, values]) => [name, { values }])),
    out,
  );
  diffKeyed('sequence', asPresenceMap(expected.sequences), asPresenceMap(actual.sequences), out);
  return out.sort();
}
