import { isGrpcServiceError, type ConnectionLike } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';

/** gRPC status codes the operator and workflow services answer with. */
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;

/** How long a workflow's history is kept after it closes, on a namespace the setup step creates. */
const RETENTION = '3 days';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** The namespace or some of the search attributes the router writes are not on the Temporal server. */
export class TemporalNotSetUpError extends Error {
  override readonly name = 'TemporalNotSetUpError';
}

/** The router's search attributes that the namespace does not have yet. */
export async function missingSearchAttributes(connection: ConnectionLike, namespace: string): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return Object.values(SEARCH_ATTRIBUTES)
    .map((key) => key.name)
    .filter((name) => customAttributes?.[name] === undefined);
}

/**
 * Start-up check of the API and the workers: without the namespace every call fails, and without the
 * search attributes every workflow start does (a 500 on each submit), so neither may start.
 */
export async function assertTemporalSetUp(connection: ConnectionLike, namespace: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (error) {
    if (isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND) {
      throw new TemporalNotSetUpError(`Temporal namespace "${namespace}" does not exist; run the setup step (npm run setup)`);
    }
    throw error;
  }
  const missing = await missingSearchAttributes(connection, namespace);
  if (missing.length > 0) {
    throw new TemporalNotSetUpError(
      `Temporal namespace "${namespace}" lacks the search attributes ${missing.join(', ')}; run the setup step (npm run setup)`,
    );
  }
}

/** Registers the namespace unless it exists. True when it was created now. */
export async function ensureNamespace(connection: ConnectionLike, namespace: string): Promise<boolean> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(RETENTION),
    });
    return true;
  } catch (error) {
    if (isGrpcServiceError(error) && error.code === GRPC_ALREADY_EXISTS) return false;
    throw error;
  }
}

/**
 * A new namespace, and a search attribute added to one, reach the services' caches a few seconds
 * after they are registered; until then calls answer NotFound or InvalidArgument. Waits until a
 * visibility query over every router search attribute succeeds in the namespace.
 */
export async function waitUntilUsable(connection: ConnectionLike, namespace: string, timeoutMs: number): Promise<void> {
  const query = Object.values(SEARCH_ATTRIBUTES)
    .map((key) => `${key.name} = ''`)
    .join(' AND ');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await connection.workflowService.countWorkflowExecutions({ namespace, query });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Adds the router's search attributes that are missing; existing ones are left as they are. */
export async function ensureSearchAttributes(connection: ConnectionLike, namespace: string): Promise<string[]> {
  const missing = await missingSearchAttributes(connection, namespace);
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
    });
  }
  return missing;
}
