// Preloaded into the workflow sandbox before its globals are frozen (src/workers/workflow-bundle.ts),
// so it sets the limit for every workflow the worker runs. The SDK captures and source-maps a stack
// for every promise a workflow creates, for the Temporal UI's stack trace query; with no frames to
// capture that work is skipped. Errors thrown inside workflow code then carry their message only.
Error.stackTraceLimit = 0;

export {};
