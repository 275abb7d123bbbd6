import type { AccountAdmin, AccountView, ApiKeyView } from '../accounts/admin';
import { defined, flag, numeric, optionalText, output, parse, table, text, UsageError, type Parsed } from './args';

export const ACCOUNT_USAGE = `  accounts list [--json]
  accounts add --id ID --name NAME [--max-per-second N] [--daily-cap N] [--json]
  accounts show ID [--json]       the account, with its callback signing secret
  accounts update ID [--name NAME] [--max-per-second N | --no-max-per-second]
                [--daily-cap N | --no-daily-cap] [--enable | --disable] [--json]
  accounts disable ID             its keys are refused within 10 s
  accounts rotate-callback-secret ID
  keys list ACCOUNT [--json]
  keys issue ACCOUNT [--label TEXT] [--json]
                                  prints the new key once; only its hash is stored
  keys revoke KEY_ID              refused within 10 s`;

export function isAccountCommand(args: readonly string[]): boolean {
  return args[0] === 'accounts' || args[0] === 'keys';
}

function accountsTable(accounts: readonly AccountView[]): string {
  return table(
    ['ID', 'NAME', 'ENABLED', 'MAX/S', 'DAILY CAP', 'CREATED'],
    accounts.map((a) => [a.id, a.name, a.enabled ? 'yes' : 'no', a.maxMessagesPerSecond === null ? '-' : String(a.maxMessagesPerSecond), a.dailyMessageCap === null ? '-' : String(a.dailyMessageCap), a.createdAt]),
  );
}

function keysTable(keys: readonly ApiKeyView[]): string {
  return table(
    ['ID', 'ACCOUNT', 'PREFIX', 'LABEL', 'CREATED', 'REVOKED'],
    keys.map((k) => [k.id, k.account, k.prefix ?? '-', k.label ?? '-', k.createdAt, k.revokedAt ?? '-']),
  );
}

/** `--no-x` clears a quota (null); `--x N` sets it; neither leaves it as it is. */
function quota(values: Parsed['values'], name: string): number | string | null | undefined {
  if (values[`no-${name}`] && values[name] !== undefined) throw new UsageError(`give --${name} or --no-${name}, not both`);
  return values[`no-${name}`] ? null : numeric(values[name]);
}

/** Runs one `accounts …` or `keys …` command and returns what to print. */
export async function runAccountCommand(args: readonly string[], accounts: AccountAdmin): Promise<string> {
  const [command, subcommand, ...tail] = args;
  switch (`${command ?? ''} ${subcommand ?? ''}`) {
    case 'accounts list': {
      const { values } = parse(tail, {}, []);
      const list = await accounts.listAccounts();
      return output(values, list, () => accountsTable(list));
    }
    case 'accounts add': {
      const { values } = parse(tail, { id: text, name: text, 'max-per-second': text, 'daily-cap': text }, []);
      const account = await accounts.createAccount(
        defined({ id: optionalText(values.id), name: optionalText(values.name), maxMessagesPerSecond: numeric(values['max-per-second']), dailyMessageCap: numeric(values['daily-cap']) }),
      );
      return output(values, account, () => accountsTable([account]));
    }
    case 'accounts show': {
      const { values, positionals } = parse(tail, {}, ['ID']);
      const account = await accounts.getAccount(positionals[0] as string);
      return output(values, account, () => `${accountsTable([account])}\ncallback secret: ${account.callbackSecret}`);
    }
    case 'accounts update': {
      const { values, positionals } = parse(
        tail,
        { name: text, 'max-per-second': text, 'no-max-per-second': flag, 'daily-cap': text, 'no-daily-cap': flag, enable: flag, disable: flag },
        ['ID'],
      );
      if (values.enable && values.disable) throw new UsageError('give --enable or --disable, not both');
      const account = await accounts.updateAccount(
        positionals[0] as string,
        defined({
          name: optionalText(values.name),
          maxMessagesPerSecond: quota(values, 'max-per-second'),
          dailyMessageCap: quota(values, 'daily-cap'),
          enabled: values.enable ? true : values.disable ? false : undefined,
        }),
      );
      return output(values, account, () => accountsTable([account]));
    }
    case 'accounts disable': {
      const { values, positionals } = parse(tail, {}, ['ID']);
      const account = await accounts.disableAccount(positionals[0] as string);
      return output(values, account, () => `account ${account.id} disabled: its keys are refused within 10 s`);
    }
    case 'accounts rotate-callback-secret': {
      const { values, positionals } = parse(tail, {}, ['ID']);
      const account = await accounts.rotateCallbackSecret(positionals[0] as string);
      return output(values, account, () => `account ${account.id} callback secret: ${account.callbackSecret}`);
    }
    case 'keys list': {
      const { values, positionals } = parse(tail, {}, ['ACCOUNT']);
      const keys = await accounts.listKeys(positionals[0] as string);
      return output(values, keys, () => keysTable(keys));
    }
    case 'keys issue': {
      const { values, positionals } = parse(tail, { label: text }, ['ACCOUNT']);
      const issued = await accounts.issueKey(positionals[0] as string, defined({ label: optionalText(values.label) }));
      return output(values, issued, () => `${keysTable([issued])}\nkey (shown once, store it now): ${issued.key}`);
    }
    case 'keys revoke': {
      const { values, positionals } = parse(tail, {}, ['KEY_ID']);
      const key = await accounts.revokeKey(positionals[0] as string);
      return output(values, key, () => `key ${key.id} (${key.prefix ?? 'no prefix'}) revoked: refused within 10 s`);
    }
    default:
      throw new UsageError(`unknown command: ${args.slice(0, 2).join(' ')}`);
  }
}
