// CPU time of OS processes, read from /proc: what a benchmark run cost each part of the system.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Pool } from 'pg';

/** Linux's USER_HZ: /proc reports CPU time in ticks of 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime, in milliseconds. */
  readonly cpuMs: number;
}

/** One /proc/<pid>/stat; undefined once the process is gone. */
function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: the fields start after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [ppid, utime, stime] = [fields[1], fields[11], fields[12]].map(Number);
  return { pid, ppid: ppid ?? 0, cpuMs: (((utime ?? 0) + (stime ?? 0)) * 1000) / TICKS_PER_SECOND };
}

function allProcesses(): ProcStat[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => procStat(Number(name)))
    .filter((stat): stat is ProcStat => stat !== undefined);
}

/** The process and every descendant (a server may fork helpers), by pid. */
function treeOf(root: number, processes: readonly ProcStat[]): ProcStat[] {
  const inTree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of processes) {
      if (!inTree.has(stat.pid) && inTree.has(stat.ppid)) {
        inTree.add(stat.pid);
        grew = true;
      }
    }
  }
  return processes.filter((stat) => inTree.has(stat.pid));
}

/** Where a group's processes are found at each reading. */
export type ProcessGroup =
  | { readonly kind: 'tree'; readonly pid: number }
  /** One process without its children (this one, whose children are measured on their own). */
  | { readonly kind: 'process'; readonly pid: number }
  /** PostgreSQL backends serving these databases (the server is shared: its other backends are someone else's). */
  | { readonly kind: 'postgres'; readonly pool: Pool; readonly databases: readonly string[] };

/** CPU ms per pid of each group, at one moment. */
export type CpuReading = Readonly<Record<string, ReadonlyMap<number, number>>>;

async function pidsOf(group: ProcessGroup, processes: readonly ProcStat[]): Promise<ProcStat[]> {
  if (group.kind === 'tree') return treeOf(group.pid, processes);
  if (group.kind === 'process') return processes.filter((stat) => stat.pid === group.pid);
  const { rows } = await group.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [group.databases]);
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

/**
 * Sets the nice value of a process, its descendants and every one of their threads: Linux keeps a
 * nice value per thread, and a process's threads started before the change keep their own.
 */
export function reniceTree(root: number, nice: number): void {
  for (const { pid } of treeOf(root, allProcesses())) {
    let threads: string[];
    try {
      threads = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const thread of threads) {
      try {
        setPriority(Number(thread), nice);
      } catch {
        // A thread that ended meanwhile.
      }
    }
  }
}
