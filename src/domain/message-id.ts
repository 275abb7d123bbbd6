/**
 * The shape of every message id we hand out: a lower-case UUID, either random or derived from the
 * account and client reference (src/api/messages.ts). A delivery report's reference is one of our
 * ids echoed back, so anything else in that place did not come from us.
 */
const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const MESSAGE_ID_LENGTH = 36;

export function isMessageId(value: string): boolean {
  return value.length === MESSAGE_ID_LENGTH && MESSAGE_ID.test(value);
}
