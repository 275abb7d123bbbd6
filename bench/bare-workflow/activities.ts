/** Stand-ins that do nothing: the benchmark measures what Temporal itself costs per message. */
export async function record(): Promise<void> {}
export async function submit(): Promise<void> {}
