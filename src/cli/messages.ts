import {
  CampaignsClient,
  FinalStatusTimeoutError,
  InvalidMessageError,
  SmsRouterClient,
  type AcceptedMessage,
  type MessageContent,
  type MessageStatusView,
  type RejectedRecipient,
} from '../client';
import { mapConcurrently } from '../concurrency';
import { payloadDataConverter } from '../codec';
import { messagePolicyFrom, type Config } from '../config';
import { DEMO_ACCOUNT_ID, DEMO_API_KEY } from '../dev/seed';
import { isFinalStatus, type MessageStatus } from '../domain/status';
import { flag, parse, readTextFile, text, UsageError, type Parsed } from './args';
import { BatchProgress, ProgressDisplay } from './progress';
import { parseRecipients } from './recipients';

/** The message commands' part of `npm run cli -- help`. */
export const MESSAGE_USAGE = `  send --to NUMBER --from SENDER --body TEXT [--client-ref REF] [--callback-url URL]
                [--send-at DATE-TIME] [--validity SECONDS] [--no-wait] [--timeout SECONDS]
                [--account ID] [--json]
                                  send one message and wait for its final status
  send --file recipients.csv --from SENDER --body TEXT [same options]
                [--campaign] [--api-url URL] [--api-key KEY]
                                  one number per line, or to,clientRef columns; shows the
                                  accepted and final counts while it waits. More numbers
                                  than MAX_BATCH_RECIPIENTS (or --campaign) go as one
                                  campaign through the REST API (key: --api-key,
                                  SMSROUTER_API_KEY, or the demo account's)
  messages show ID [--account ID] [--json]
  messages watch ID [--account ID] [--json]
                                  print each status change until the final one`;

/** Messages waited for at once after a batch send. */
const WAIT_CONCURRENCY = 32;
const DEFAULT_TIMEOUT_SECONDS = 300;

const ACCOUNT_OPTION = { account: text } as const;
const SEND_OPTIONS = {
  ...ACCOUNT_OPTION,
  to: text,
  file: text,
  from: text,
  body: text,
  'client-ref': text,
  'callback-url': text,
  'send-at': text,
  validity: text,
  timeout: text,
  'no-wait': flag,
  campaign: flag,
  'api-url': text,
  'api-key': text,
} as const;

/** How often a campaign's counts are asked for while the CLI waits. */
const CAMPAIGN_POLL_MS = 1000;

/** The message commands, over the SDK as any client service would use it; returns the exit code. */
export async function runMessageCommand(args: readonly string[], config: Config): Promise<number> {
  const [command, subcommand] = args;
  const key = command === 'send' ? 'send' : `${command ?? ''} ${subcommand ?? ''}`;
  const tail = command === 'send' ? args.slice(1) : args.slice(2);
  const parsed =
    key === 'send' ? parse(tail, SEND_OPTIONS, []) : key === 'messages show' || key === 'messages watch' ? parse(tail, ACCOUNT_OPTION, ['ID']) : undefined;
  if (!parsed) throw new UsageError(`unknown command: ${args.slice(0, 2).join(' ')}`);

  const sdk = await SmsRouterClient.connect({
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
    accountId: optional(parsed.values.account) ?? DEMO_ACCOUNT_ID,
    limits: { maxSegments: config.MAX_SEGMENTS, maxBatchRecipients: config.MAX_BATCH_RECIPIENTS },
    policy: messagePolicyFrom(config),
    dataConverter: payloadDataConverter(config.PAYLOAD_ENCRYPTION_KEY),
  });
  try {
    if (key === 'send') return await send(sdk, parsed, config);
    const id = parsed.positionals[0] as string;
    if (key === 'messages show') {
      const view = await sdk.status(id);
      print(parsed.values.json ? JSON.stringify(view, null, 2) : describeView(view));
      return 0;
    }
    for await (const view of sdk.watch(id)) {
      print(parsed.values.json ? JSON.stringify({ at: new Date().toISOString(), ...view }) : `${new Date().toISOString()}  ${statusLine(view)}`);
    }
    return 0;
  } finally {
    await sdk.close();
  }
}

async function send(sdk: SmsRouterClient, { values }: Parsed, config: Config): Promise<number> {
  const maxBatchRecipients = config.MAX_BATCH_RECIPIENTS;
  const to = optional(values.to);
  const file = optional(values.file);
  if ((to === undefined) === (file === undefined)) throw new UsageError('give --to NUMBER or --file recipients.csv');
  const content: MessageContent = {
    from: optional(values.from) ?? '',
    body: optional(values.body) ?? '',
    clientRef: optional(values['client-ref']),
    callbackUrl: optional(values['callback-url']),
    sendAt: optional(values['send-at']),
    validitySeconds: integer(values.validity),
  };
  const wait = !values['no-wait'];
  const timeoutSeconds = integer(values.timeout) ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new UsageError('--timeout must be a whole number of seconds');
  const deadline = Date.now() + timeoutSeconds * 1000;

  if (to !== undefined) {
    const accepted = await sdk.send({ ...content, to });
    if (values.json && !wait) print(JSON.stringify(accepted));
    else if (!values.json) print(`${accepted.id}  ${accepted.to}  ${accepted.status}${accepted.duplicate ? ' (duplicate: the message sent before with this clientRef)' : ''}`);
    if (!wait) return 0;
    const final = await sdk.waitForFinal(accepted.id, { timeoutMs: deadline - Date.now() });
    print(values.json ? JSON.stringify(final) : `${final.id}  ${statusLine(final)}`);
    return 0;
  }

  const recipients = parseRecipients(readTextFile(file as string));
  if (recipients.length === 0) throw new UsageError(`no recipients in ${file}`);
  if (values.campaign || recipients.length > maxBatchRecipients) {
    const campaigns = new CampaignsClient({
      baseUrl: optional(values['api-url']) ?? config.PUBLIC_BASE_URL,
      apiKey: optional(values['api-key']) ?? process.env.SMSROUTER_API_KEY ?? DEMO_API_KEY,
    });
    return sendCampaign(campaigns, { ...content, recipients }, { json: values.json === true, wait, deadline });
  }
  const progress = new BatchProgress(recipients.length);
  const display = new ProgressDisplay(progress);
  const accepted: AcceptedMessage[] = [];
  const errors: RejectedRecipient[] = [];
  for (let offset = 0; offset < recipients.length; offset += maxBatchRecipients) {
    const chunk = recipients.slice(offset, offset + maxBatchRecipients);
    let result: { messages: readonly AcceptedMessage[]; errors: readonly RejectedRecipient[] };
    try {
      result = await sdk.sendBatch({ ...content, recipients: chunk });
    } catch (error) {
      // Every number of this chunk is invalid: the rest of the file may still be fine.
      if (!(error instanceof InvalidMessageError) || error.recipients.length === 0) throw error;
      result = { messages: [], errors: error.recipients };
    }
    accepted.push(...result.messages);
    errors.push(...result.errors.map((rejected) => shifted(rejected, offset)));
    progress.accepted = accepted.length;
    progress.rejected = errors.length;
    display.update();
  }

  const finals = new Map<string, MessageStatusView>();
  if (wait) {
    await mapConcurrently(accepted, WAIT_CONCURRENCY, async (message) => {
      try {
        const final = await sdk.waitForFinal(message.id, { timeoutMs: Math.max(1, deadline - Date.now()) });
        finals.set(message.id, final);
        progress.recordFinal(final.status);
      } catch (error) {
        if (!(error instanceof FinalStatusTimeoutError)) throw error;
        progress.timedOut += 1;
      }
      display.update();
    });
  }
  display.done();

  if (values.json) {
    print(JSON.stringify({ messages: accepted.map((message) => ({ ...message, final: finals.get(message.id) })), errors }, null, 2));
  } else {
    for (const rejected of errors) print(`not sent: ${rejected.error.field} ${rejected.to}: ${rejected.error.code}: ${rejected.error.message}`);
  }
  return errors.length > 0 || progress.timedOut > 0 ? 1 : 0;
}

/**
 * A large list as one campaign: the API stores it and starts its messages at the providers' pace,
 * and the CLI follows the campaign's counts instead of every message.
 */
async function sendCampaign(campaigns: CampaignsClient, campaign: Parameters<CampaignsClient['create']>[0], options: { json: boolean; wait: boolean; deadline: number }): Promise<number> {
  const accepted = await campaigns.create(campaign);
  if (!options.json) print(`campaign ${accepted.id}: ${accepted.recipients} recipients accepted${accepted.duplicate ? ' (duplicate: the campaign sent before with this clientRef)' : ''}`);
  if (!options.wait) {
    if (options.json) print(JSON.stringify(accepted));
    return 0;
  }
  const progress = new BatchProgress(accepted.recipients);
  const display = new ProgressDisplay(progress);
  for (;;) {
    const view = await campaigns.get(accepted.id);
    const counts = Object.entries(view.counts);
    const unfinished = counts.filter(([status]) => status === 'pending' || !isFinalStatus(status as MessageStatus)).reduce((sum, [, count]) => sum + count, 0);
    progress.accepted = accepted.recipients - (view.counts.pending ?? 0);
    progress.finals.clear();
    for (const [status, count] of counts) if (status !== 'pending' && isFinalStatus(status as MessageStatus)) progress.finals.set(status as MessageStatus, count);
    display.update();
    if (unfinished === 0 || Date.now() >= options.deadline) {
      progress.timedOut = unfinished;
      display.done();
      if (options.json) print(JSON.stringify(view, null, 2));
      return unfinished > 0 || (view.counts.rejected ?? 0) > 0 ? 1 : 0;
    }
    await new Promise((resolve) => setTimeout(resolve, CAMPAIGN_POLL_MS));
  }
}

/** A chunk's recipient indices as positions in the whole file. */
function shifted(rejected: RejectedRecipient, offset: number): RejectedRecipient {
  const index = rejected.index + offset;
  const field = rejected.error.field.replace(/^recipients\[\d+\]/, `recipients[${index}]`);
  return { ...rejected, index, error: { ...rejected.error, field } };
}

function describeView(view: MessageStatusView): string {
  const rows: [string, string | undefined][] = [
    ['id', view.id],
    ['status', `${view.status}${view.final ? ' (final)' : ''}`],
    ['provider', view.providerId],
    ['provider message id', view.providerMessageId],
    ['error', view.errorCode],
    ['reason', view.reason],
  ];
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([label, value]) => `${label.padEnd(20)}${value}`)
    .join('\n');
}

function statusLine(view: MessageStatusView): string {
  const via = view.providerId ? ` via ${view.providerId}` : '';
  const error = view.errorCode ? ` (${view.errorCode}${view.reason ? `: ${view.reason}` : ''})` : '';
  return `${view.status}${via}${error}`;
}

function optional(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Not a whole number becomes NaN, which the SDK refuses naming the field. */
function integer(value: string | boolean | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}
