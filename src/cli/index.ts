import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import { createDatabase } from '../db/client';
import { RoutingAdmin, RoutingAdminError, type ProviderView, type RouteExplanation, type RouteView } from '../routing/admin';
import { InboundConflictError, InboundNotFoundError, InboundValidationError, NumbersService } from '../inbound/numbers';
import { NUMBERS_COMMANDS, NUMBERS_USAGE } from './numbers';

const USAGE = `usage: npm run cli -- <command>

  providers list [--json]
  providers add --id ID --adapter NAME --base-url URL --tps N --window N
                [--pipelining N] [--credentials-ref ENV_VAR] [--dlr-timeout SECONDS]
                [--delivery-guarantee at-most-once|at-least-once] [--disabled] [--json]
  providers update ID [--adapter NAME] [--base-url URL] [--tps N] [--window N] [--pipelining N]
                [--credentials-ref ENV_VAR | --no-credentials] [--dlr-timeout SECONDS]
                [--delivery-guarantee ...] [--enable | --disable] [--json]
  providers disable ID
  routes list [--prefix P] [--provider ID] [--account ID] [--json]
  routes add --prefix P --provider ID [--priority N] [--weight N] [--price X]
                [--account ID] [--sender FROM] [--json]
  routes remove ID
  routes import FILE              replace the route table from a YAML or JSON file
  route NUMBER [--account ID] [--from SENDER] [--json]
                                  the candidates a message to NUMBER would get
${NUMBERS_USAGE}

Connects to DATABASE_URL. Changes reach running routers within about a second.`;

/** The command line is wrong; the message says how. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

function parse(args: readonly string[], options: Options, positionals: readonly string[]): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length !== positionals.length) {
    throw new UsageError(positionals.length === 0 ? `unexpected argument ${parsed.positionals[0]}` : `expected ${positionals.join(' ')}`);
  }
  return parsed;
}

const text = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;

const PROVIDER_OPTIONS: Options = {
  adapter: text,
  'base-url': text,
  'credentials-ref': text,
  tps: text,
  window: text,
  pipelining: text,
  'dlr-timeout': text,
  'delivery-guarantee': text,
};

/**
 * Numbers stay strings when they do not look like numbers, so the admin service's validation
 * names the field (`tps: must be a number`) instead of the CLI guessing.
 */
function numeric(value: string | boolean | undefined): number | string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

function optionalText(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Leaves out what was not given, so an update changes only the fields named on the command line. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function providerFields(values: Parsed['values']): Record<string, unknown> {
  return defined({
    adapter: optionalText(values.adapter),
    baseUrl: optionalText(values['base-url']),
    credentialsRef: optionalText(values['credentials-ref']),
    tps: numeric(values.tps),
    window: numeric(values.window),
    pipelining: numeric(values.pipelining),
    dlrTimeoutSeconds: numeric(values['dlr-timeout']),
    deliveryGuarantee: optionalText(values['delivery-guarantee']),
  });
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function providersTable(providers: readonly ProviderView[]): string {
  return table(
    ['ID', 'ADAPTER', 'ENABLED', 'TPS', 'WINDOW', 'DLR TIMEOUT', 'GUARANTEE', 'CREDENTIALS', 'BASE URL'],
    providers.map((p) => [
      p.id,
      p.adapter,
      p.enabled ? 'yes' : 'no',
      String(p.tps),
      String(p.window),
      `${p.dlrTimeoutSeconds}s`,
      p.deliveryGuarantee,
      p.hasCredentials ? 'yes' : 'no',
      p.baseUrl,
    ]),
  );
}

function routeCells(route: RouteView): string[] {
  return [route.prefix, route.provider, route.account ?? '-', route.sender ?? '-', String(route.priority), String(route.weight), route.price === null ? '-' : String(route.price)];
}

function routesTable(routes: readonly RouteView[]): string {
  return table(
    ['ID', 'PREFIX', 'PROVIDER', 'ACCOUNT', 'SENDER', 'PRIORITY', 'WEIGHT', 'PRICE'],
    routes.map((route) => [route.id, ...routeCells(route)]),
  );
}

function explanationText(explanation: RouteExplanation): string {
  const scope = [explanation.account && `account ${explanation.account}`, explanation.from && `from ${explanation.from}`].filter(Boolean).join(', ');
  const heading = `${explanation.to}${scope ? ` (${scope})` : ''}`;
  if (explanation.candidates.length === 0) return `${heading}: no route`;
  return `${heading}\n${table(
    ['#', 'PROVIDER', 'PREFIX', 'ACCOUNT', 'SENDER', 'PRIORITY', 'WEIGHT', 'PRICE', 'FIRST IN TIER', 'ROUTE'],
    explanation.candidates.map((candidate, index) => {
      const [prefix = '', provider = '', ...rest] = routeCells(candidate);
      return [String(index + 1), provider, prefix, ...rest, `${Math.round(candidate.share * 1000) / 10}%`, candidate.id];
    }),
  )}`;
}

function output(values: Parsed['values'], data: unknown, render: () => string): string {
  return values.json ? JSON.stringify(data, null, 2) : render();
}

/** Runs one command and returns what to print. */
async function runCommand(args: readonly string[], admin: RoutingAdmin, numbers: NumbersService): Promise<string> {
  const [command, subcommand, ...rest] = args;
  const key = command === 'route' ? 'route' : `${command ?? ''} ${subcommand ?? ''}`;
  const tail = command === 'route' ? args.slice(1) : rest;
  switch (key) {
    case 'providers list': {
      const { values } = parse(tail, {}, []);
      const providers = await admin.listProviders();
      return output(values, providers, () => providersTable(providers));
    }
    case 'providers add': {
      const { values } = parse(tail, { ...PROVIDER_OPTIONS, id: text, disabled: flag }, []);
      const provider = await admin.addProvider({ id: optionalText(values.id), ...providerFields(values), ...(values.disabled ? { enabled: false } : {}) });
      return output(values, provider, () => providersTable([provider]));
    }
    case 'providers update': {
      const { values, positionals } = parse(tail, { ...PROVIDER_OPTIONS, 'no-credentials': flag, enable: flag, disable: flag }, ['ID']);
      if (values.enable && values.disable) throw new UsageError('give --enable or --disable, not both');
      if (values['no-credentials'] && values['credentials-ref'] !== undefined) throw new UsageError('give --credentials-ref or --no-credentials, not both');
      const changes = {
        ...providerFields(values),
        ...(values['no-credentials'] ? { credentialsRef: null } : {}),
        ...(values.enable ? { enabled: true } : values.disable ? { enabled: false } : {}),
      };
      const provider = await admin.updateProvider(positionals[0] as string, changes);
      return output(values, provider, () => providersTable([provider]));
    }
    case 'providers disable': {
      const { values, positionals } = parse(tail, {}, ['ID']);
      const provider = await admin.disableProvider(positionals[0] as string);
      return output(values, provider, () => `provider ${provider.id} disabled`);
    }
    case 'routes list': {
      const { values } = parse(tail, { prefix: text, provider: text, account: text }, []);
      const routes = await admin.listRoutes(defined({ prefix: values.prefix, provider: values.provider, account: values.account }));
      return output(values, routes, () => routesTable(routes));
    }
    case 'routes add': {
      const { values } = parse(tail, { prefix: text, provider: text, priority: text, weight: text, price: text, account: text, sender: text }, []);
      const route = await admin.addRoute(
        defined({
          prefix: optionalText(values.prefix),
          provider: optionalText(values.provider),
          priority: numeric(values.priority),
          weight: numeric(values.weight),
          price: numeric(values.price),
          account: optionalText(values.account),
          sender: optionalText(values.sender),
        }),
      );
      return output(values, route, () => routesTable([route]));
    }
    case 'routes remove': {
      const { values, positionals } = parse(tail, {}, ['ID']);
      const id = positionals[0] as string;
      await admin.removeRoute(id);
      return output(values, { removed: id }, () => `route ${id} removed`);
    }
    case 'routes import': {
      const { values, positionals } = parse(tail, {}, ['FILE']);
      const file = positionals[0] as string;
      let source: string;
      try {
        source = readFileSync(file, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      const summary = await admin.importRoutingText(source, file);
      return output(
        values,
        summary,
        () =>
          `imported ${file}: ${summary.routesAdded} routes (replacing ${summary.routesRemoved}), ` +
          `${summary.providersCreated} providers created, ${summary.providersUpdated} updated`,
      );
    }
    case 'route': {
      const { values, positionals } = parse(tail, { account: text, from: text }, ['NUMBER']);
      const explanation = await admin.explain(defined({ number: positionals[0], account: values.account, from: values.from }));
      return output(values, explanation, () => explanationText(explanation));
    }
    default: {
      const numbersCommand = NUMBERS_COMMANDS[key];
      if (!numbersCommand) throw new UsageError(args.length === 0 ? 'no command given' : `unknown command: ${args.slice(0, 2).join(' ')}`);
      const { values, positionals } = parse(tail, numbersCommand.options, numbersCommand.positionals);
      const result = await numbersCommand.run(values, positionals, numbers);
      return typeof result === 'string' ? output(values, { done: result }, () => result) : output(values, result.data, () => table(result.headers, result.rows));
    }
  }
}

async function main(args: readonly string[]): Promise<number> {
  if (args[0] === 'help' || args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const db = createDatabase(loadConfig().DATABASE_URL);
  try {
    console.log(await runCommand(args, new RoutingAdmin(db), new NumbersService(db)));
    return 0;
  } finally {
    await db.$disconnect();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      if (error instanceof UsageError) {
        console.error(`error: ${error.message} (npm run cli -- help)`);
        process.exitCode = 2;
        return;
      }
      // One line: a stack trace tells an operator less than the message does.
      const message = error instanceof Error ? error.message : String(error);
      const known = [RoutingAdminError, ConfigError, InboundValidationError, InboundNotFoundError, InboundConflictError].some((type) => error instanceof type);
      console.error(`error: ${known ? message : message.split('\n').filter((line) => line.trim() !== '').pop() ?? message}`);
      process.exitCode = 1;
    },
  );
}
