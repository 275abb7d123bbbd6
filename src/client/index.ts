/**
 * `smsrouter/client`: send SMS through smsrouter from a TypeScript service by starting its message
 * workflows on Temporal. See the README's "TypeScript SDK" section.
 */
export {
  SmsRouterClient,
  type AcceptedMessage,
  type BatchResult,
  type KnownMessage,
  type KnownMessageLookup,
  type MessageStatusView,
  type SendSettings,
  type SmsRouterClientOptions,
  type SmsRouterConnectOptions,
  type WaitOptions,
  type WatchOptions,
} from './client';
export {
  CampaignRequestError,
  CampaignsClient,
  type AcceptedCampaign,
  type CampaignInput,
  type CampaignsClientOptions,
  type CampaignView,
} from './campaigns';
export { parseRecipientCsv, RecipientCsvError, type CsvRecipient } from './csv';
export { FinalStatusTimeoutError, InvalidMessageError, MessageConflictError, MessageNotFoundError, SmsRouterError, type InvalidMessageCode } from './errors';
export {
  DEFAULT_MESSAGE_POLICY,
  DEFAULT_SEND_LIMITS,
  FIELD_LIMITS,
  messageIdFor,
  type BatchInput,
  type BatchRecipient,
  type MessageContent,
  type MessageInput,
  type RejectedRecipient,
  type SendLimits,
} from './request';
export type { CancelResult, MessagePolicy, RouteCandidate, RouteChooser } from '../domain/message';
export type { MessageStatus } from '../domain/status';
/** Payload encryption, to match workers that run with PAYLOAD_ENCRYPTION_KEY. */
export { payloadDataConverter } from '../codec';
export { parsePayloadKeys } from '../codec/encryption';
