import { AccountAdmin } from '../accounts/admin';
import { AdminError } from '../admin/errors';
import { SmsRouterError } from '../client';
import { ConfigError, loadConfig } from '../config';
import { createDatabase } from '../db/client';
import { RoutingAdmin } from '../routing/admin';
import { ProviderWebhookAdmin, type ProviderWebhooksView } from '../routing/provider-webhooks';
import type { ProviderView, RouteExplanation, RouteView } from '../routing/admin-views';
import { ACCOUNT_USAGE, isAccountCommand, runAccountCommand } from './accounts';
import { defined, flag, numeric, optionalText, output, parse, readTextFile, table, text, UsageError, type Options, type Parsed } from './args';
import { MESSAGE_USAGE, runMessageCommand } from './messages';
import { NUMBERS_COMMANDS, NUMBERS_USAGE } from './numbers';
import { InboundConflictError, InboundNotFoundError, InboundValidationError, NumbersService } from '../inbound/numbers';

const USAGE = `usage: npm run cli -- <command>

  providers list [--json]
  providers add --id ID --adapter NAME --base-url URL --tps N --window N
                [--pipelining N] [--credentials-ref ENV_VAR] [--dlr-timeout SECONDS]
                [--delivery-guarantee at-most-once|at-least-once] [--disabled] [--json]
  providers update ID [--adapter NAME] [--base-url URL] [--tps N] [--window N] [--pipelining N]
                [--credentials-ref ENV_VAR | --no-credentials] [--dlr-timeout SECONDS]
                [--delivery-guarantee ...] [--enable | --disable] [--json]
  providers disable ID
  providers webhooks ID [--json]  the DLR and inbound URLs, with our token, for the provider's dashboard
  providers rotate-webhook-secret ID [--grace-seconds N] [--json]
                                  a new token; the old one is accepted for N s more (default a week)
  routes list [--prefix P] [--provider ID] [--account ID] [--json]
  routes add --prefix P --provider ID [--priority N] [--weight N] [--price X]
                [--account ID] [--sender FROM] [--json]
  routes remove ID
  routes import FILE              replace the route table from a YAML or JSON file
  route NUMBER [--account ID] [--from SENDER] [--json]
                                  the candidates a message to NUMBER would get
${MESSAGE_USAGE}
${ACCOUNT_USAGE}
${NUMBERS_USAGE}

Providers, routes, accounts and keys: connects to DATABASE_URL; changes reach running routers within
about a second. Messages: connects to Temporal (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) through the
SDK, as the account --account names (default: demo).`;

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

function webhooksText(webhooks: ProviderWebhooksView): string {
  const grace = webhooks.previousSecretValidUntil ? `\nprevious token accepted until ${webhooks.previousSecretValidUntil}` : '';
  return `delivery reports: ${webhooks.deliveryReports}\ninbound:          ${webhooks.inbound}${grace}`;
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

/** Runs one command and returns what to print. */
async function runCommand(args: readonly string[], admin: RoutingAdmin, webhookAdmin: ProviderWebhookAdmin, numbers: NumbersService): Promise<string> {
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
    case 'providers webhooks': {
      const { values, positionals } = parse(tail, {}, ['ID']);
      const webhooks = await webhookAdmin.webhooks(positionals[0] as string);
      return output(values, webhooks, () => webhooksText(webhooks));
    }
    case 'providers rotate-webhook-secret': {
      const { values, positionals } = parse(tail, { 'grace-seconds': text }, ['ID']);
      const webhooks = await webhookAdmin.rotate(positionals[0] as string, defined({ graceSeconds: numeric(values['grace-seconds']) }));
      return output(values, webhooks, () => webhooksText(webhooks));
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
      const summary = await admin.importRoutingText(readTextFile(file), file);
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
  const config = loadConfig();
  if (args[0] === 'send' || args[0] === 'messages') return runMessageCommand(args, config);
  const db = createDatabase(config.DATABASE_URL);
  try {
    console.log(await (isAccountCommand(args) ? runAccountCommand(args, new AccountAdmin(db)) : runCommand(args, new RoutingAdmin(db), new ProviderWebhookAdmin(db, config.PUBLIC_BASE_URL), new NumbersService(db))));
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
      if (error instanceof SmsRouterError) {
        console.error(`error: ${error.code}${error.field ? ` (${error.field})` : ''}: ${message}`);
        process.exitCode = 1;
        return;
      }
      const known = [AdminError, ConfigError, InboundValidationError, InboundNotFoundError, InboundConflictError].some((type) => error instanceof type);
      console.error(`error: ${known ? message : message.split('\n').filter((line) => line.trim() !== '').pop() ?? message}`);
      process.exitCode = 1;
    },
  );
}
