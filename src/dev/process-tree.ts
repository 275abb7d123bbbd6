// A process and its descendants as Linux's /proc shows them: their CPU time (the benchmarks'
// figures) and their scheduling priority (npm start's background parts).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Linux's USER_HZ: /proc reports CPU time in ticks of 1/100 s on every architecture Node runs on. */
export const TICKS_PER_SECOND = 100;

export interface ProcStat {
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

export function allProcesses(): ProcStat[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => procStat(Number(name)))
    .filter((stat): stat is ProcStat => stat !== undefined);
}

/** The process and every descendant (a server may fork helpers), by pid. */
export function treeOf(root: number, processes: readonly ProcStat[]): ProcStat[] {
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

/**
 * Sets the nice value of a process, its descendants and every one of their threads: Linux keeps a
 * nice value per thread, and a process's threads started before the change keep their own (the
 * ones started after inherit it). Where the kernel schedules each session as a group (autogroup),
 * a thread's nice value weighs only against the threads of its own group, so the group's nice value
 * is set too: that is the one that weighs against the other parts, each of which runs in a session
 * of its own. Positive values only lower a priority, which needs no privilege.
 */
export function reniceTree(root: number, nice: number): void {
  for (const { pid } of treeOf(root, allProcesses())) {
    try {
      writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    } catch {
      // A kernel without autogroup, or a process that ended meanwhile.
    }
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
