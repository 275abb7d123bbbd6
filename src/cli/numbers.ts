import type { NumbersService, OwnedNumberView, SuppressionView } from '../inbound/numbers';

/** `npm run cli -- numbers …` and `suppressions …`: the numbers service, as the admin API offers it. */

export const NUMBERS_USAGE = `  numbers list [--account ID] [--json]
  numbers add NUMBER --account ID [--providers ID,ID] [--keyword WORD] [--json]
                                  NUMBER is E.164 or short-code digits; WORD is the
                                  account's keyword on a shared short code
  numbers remove NUMBER
  inbound set ACCOUNT [--webhook URL | --no-webhook] [--keyword-replies | --no-keyword-replies]
                    [--opt-out-reply TEXT] [--opt-in-reply TEXT] [--json]
                                  where the account's inbound messages are POSTed, and
                                  whether STOP and START are confirmed by SMS
  suppressions list ACCOUNT [--number N] [--json]
  suppressions add ACCOUNT NUMBER [--json]
  suppressions remove ACCOUNT NUMBER`;

type Values = Readonly<Record<string, string | boolean | undefined>>;

export interface CommandResult {
  readonly data: unknown;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface NumbersCommand {
  readonly options: Readonly<Record<string, { readonly type: 'string' | 'boolean' }>>;
  readonly positionals: readonly string[];
  run(values: Values, positionals: readonly string[], numbers: NumbersService): Promise<CommandResult | string>;
}

const text = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;

const NUMBER_HEADERS = ['NUMBER', 'ACCOUNT', 'PROVIDERS', 'KEYWORD', 'SINCE'];
const numberRow = (view: OwnedNumberView) => [view.number, view.account, view.providers.join(',') || 'any', view.keyword ?? '-', view.createdAt];
const SUPPRESSION_HEADERS = ['NUMBER', 'REASON', 'SOURCE', 'SINCE'];
const suppressionRow = (view: SuppressionView) => [view.number, view.reason, view.source ?? '-', view.createdAt];

function optional(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function positional(positionals: readonly string[], index: number): string {
  return positionals[index] ?? '';
}

export const NUMBERS_COMMANDS: Readonly<Record<string, NumbersCommand>> = {
  'numbers list': {
    options: { account: text },
    positionals: [],
    async run(values, _positionals, numbers) {
      const listed = await numbers.listNumbers({ account: optional(values.account) });
      return { data: listed, headers: NUMBER_HEADERS, rows: listed.map(numberRow) };
    },
  },
  'numbers add': {
    options: { account: text, providers: text, keyword: text },
    positionals: ['NUMBER'],
    async run(values, positionals, numbers) {
      const providers = optional(values.providers)?.split(',').filter((provider) => provider.length > 0);
      const added = await numbers.addNumber({ number: positional(positionals, 0), account: optional(values.account) ?? '', providers, keyword: optional(values.keyword) });
      return { data: added, headers: NUMBER_HEADERS, rows: [numberRow(added)] };
    },
  },
  'numbers remove': {
    options: {},
    positionals: ['NUMBER'],
    async run(_values, positionals, numbers) {
      await numbers.removeNumber(positional(positionals, 0));
      return `number ${positional(positionals, 0)} removed`;
    },
  },
  'inbound set': {
    options: { webhook: text, 'no-webhook': flag, 'keyword-replies': flag, 'no-keyword-replies': flag, 'opt-out-reply': text, 'opt-in-reply': text },
    positionals: ['ACCOUNT'],
    async run(values, positionals, numbers) {
      const webhookUrl = values['no-webhook'] ? null : optional(values.webhook);
      const keywordReplies = values['no-keyword-replies'] ? false : values['keyword-replies'] ? true : undefined;
      const settings = await numbers.configureInbound(positional(positionals, 0), {
        webhookUrl,
        keywordReplies,
        optOutReply: optional(values['opt-out-reply']),
        optInReply: optional(values['opt-in-reply']),
      });
      return {
        data: settings,
        headers: ['ACCOUNT', 'WEBHOOK', 'KEYWORD REPLIES'],
        rows: [[settings.account, settings.webhookUrl ?? '-', settings.keywordReplies ? 'on' : 'off']],
      };
    },
  },
  'suppressions list': {
    options: { number: text },
    positionals: ['ACCOUNT'],
    async run(values, positionals, numbers) {
      const listed = await numbers.listSuppressions(positional(positionals, 0), { number: optional(values.number) });
      return { data: listed, headers: SUPPRESSION_HEADERS, rows: listed.map(suppressionRow) };
    },
  },
  'suppressions add': {
    options: {},
    positionals: ['ACCOUNT', 'NUMBER'],
    async run(_values, positionals, numbers) {
      const added = await numbers.addSuppression(positional(positionals, 0), positional(positionals, 1), 'cli');
      return { data: added, headers: SUPPRESSION_HEADERS, rows: [suppressionRow(added)] };
    },
  },
  'suppressions remove': {
    options: {},
    positionals: ['ACCOUNT', 'NUMBER'],
    async run(_values, positionals, numbers) {
      await numbers.removeSuppression(positional(positionals, 0), positional(positionals, 1));
      return `${positional(positionals, 1)} removed from the suppression list of ${positional(positionals, 0)}`;
    },
  },
};
