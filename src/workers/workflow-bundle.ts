/** How the router's workflows are bundled: the worker, the tests and the replay check bundle them alike. */
export interface WorkflowBundleSettings {
  readonly workflowsPath: string;
  readonly preloadModules: string[];
}

/**
 * With `stackTraces` off, the workflow sandbox captures no stacks: the SDK's promise hook captured
 * and source-mapped one for every promise a workflow created, about a fifth of the worker's
 * workflow CPU (a replay of a delivered message's history took about 0.74× the CPU without). The
 * Temporal UI's stack trace tab is empty then; WORKFLOW_STACK_TRACES=true brings it back.
 */
export function workflowBundleSettings(stackTraces: boolean): WorkflowBundleSettings {
  return {
    workflowsPath: require.resolve('../workflows'),
    preloadModules: stackTraces ? [] : [require.resolve('../workflows/sandbox/without-stack-traces')],
  };
}
