/** The callback does not carry a valid signature or secret for its provider. */
export class DeliveryReportAuthError extends Error {
  override readonly name = 'DeliveryReportAuthError';
}

/** The callback is not a delivery report in its provider's format. */
export class DeliveryReportFormatError extends Error {
  override readonly name = 'DeliveryReportFormatError';
}

/** A provider row names an adapter this build does not have. */
export class UnknownAdapterError extends Error {
  override readonly name = 'UnknownAdapterError';
  constructor(readonly adapter: string) {
    super(`unknown provider adapter "${adapter}"`);
  }
}

/**
 * The provider may have accepted the submit but we cannot tell: the connection dropped or timed out
 * after the request was sent, or a 2xx answer could not be read. Retrying could send twice.
 */
export class AmbiguousSubmitError extends Error {
  override readonly name = 'AmbiguousSubmitError';
}

/** The callback is not an inbound message in its provider's format, or a field is out of bounds. */
export class InboundFormatError extends Error {
  override readonly name = 'InboundFormatError';
}
