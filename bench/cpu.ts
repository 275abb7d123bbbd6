// CPU time of OS processes, read from /proc: what a benchmark run cost each part of the system.
import { readFileSync } from 'node:fs';
import type { Pool } from 'pg';
import { allProcesses, TICKS_PER_SECOND, treeOf, type ProcStat } from '../src/dev/process-tree';

/** Where a group's processes are found at each reading. */
export type ProcessGroup =
  | { readonly kind: 'tree'; readonly pid: number }
  /** One process without its children (this one, whose children are measured on their own). */
  | { readonly kind: 'process'; readonly pid: number }
  /**
   * PostgreSQL backends serving these databases (the server is shared: its other backends are
   * someone else's), but not those of connections naming `notApplication` (the benchmark's own).
   */
  | { readonly kind: 'postgres'; readonly pool: Pool; readonly databases: readonly string[]; readonly notApplication?: string };

/** CPU ms per pid of each group, at one moment. */
export type CpuReading = Readonly<Record<string, ReadonlyMap<number, number>>>;

async function pidsOf(group: ProcessGroup, processes: readonly ProcStat[]): Promise<ProcStat[]> {
  if (group.kind === 'tree') return treeOf(group.pid, processes);
  if (group.kind === 'process') return processes.filter((stat) => stat.pid === group.pid);
  const { rows } = await group.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) AND application_name IS DISTINCT FROM $2', [
    group.databases,
    group.notApplication ?? null,
  ]);
  const wanted = new Set(rows.map((row) => row.pid));
  return processes.filter((stat) => wanted.has(stat.pid));
}

export async function readCpu(groups: Readonly<Record<string, ProcessGroup>>): Promise<CpuReading> {
  const processes = allProcesses();
  const reading: Record<string, Map<number, number>> = {};
  for (const [name, group] of Object.entries(groups)) {
    reading[name] = new Map((await pidsOf(group, processes)).map((stat) => [stat.pid, stat.cpuMs]));
  }
  return reading;
}

/**
 * CPU ms each group spent between two readings. A process that appeared meanwhile counts whole; one
 * that ended meanwhile (a PostgreSQL connection closed) is lost from the figure.
 */
export function cpuSpent(before: CpuReading, after: CpuReading): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([name, pids]) => {
      let spent = 0;
      for (const [pid, cpuMs] of pids) spent += cpuMs - (before[name]?.get(pid) ?? 0);
      return [name, spent];
    }),
  );
}

/** The whole machine's CPU time since boot, all cores, in ms: what every process left for others. */
export interface MachineCpu {
  readonly busyMs: number;
  readonly idleMs: number;
  /** Time this virtual machine's cores were runnable but the hypervisor ran someone else. */
  readonly stolenMs: number;
}

export function readMachineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const ms = (...ticks: (number | undefined)[]) => (ticks.reduce<number>((sum, tick) => sum + (tick ?? 0), 0) * 1000) / TICKS_PER_SECOND;
  return { busyMs: ms(user, nice, system, irq, softirq), idleMs: ms(idle, iowait), stolenMs: ms(steal) };
}

export function machineCpuSpent(before: MachineCpu, after: MachineCpu): MachineCpu {
  return { busyMs: after.busyMs - before.busyMs, idleMs: after.idleMs - before.idleMs, stolenMs: after.stolenMs - before.stolenMs };
}

/** Each kind of the machine's CPU time as a share of one core over `seconds` (100 = one core throughout). */
export function machineShares(machine: MachineCpu, seconds: number): string {
  return [machine.busyMs, machine.idleMs, machine.stolenMs].map((ms) => Math.round(ms / (seconds * 10))).join(' / ');
}
