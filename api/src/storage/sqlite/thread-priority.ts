import { FFIType, dlopen } from 'bun:ffi';

/** How much lower a reader thread runs than the rest of the API (Linux nice steps). */
export const READER_NICE_STEPS = 10;

/**
 * Lowers the CPU priority of the calling thread by `steps` nice levels (Linux, glibc): a long
 * read on a reader thread then takes the CPU the writer and the API's event loop leave, instead
 * of half of it — on two cores, 50 clients looping on /stats had pushed a batch write's p99 from
 * 114 to 333 ms. The read gate bounds how many reads run; this bounds what they take from writes.
 * On Linux the nice value is per thread, and raising it needs no privilege. Answers the new nice
 * value, or undefined where this cannot be done (another OS or C library): reads then run as before.
 */
export function lowerThisThreadPriority(steps: number = READER_NICE_STEPS): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const libc = dlopen('libc.so.6', {
      gettid: { args: [], returns: FFIType.i32 },
      getpriority: { args: [FFIType.i32, FFIType.u32], returns: FFIType.i32 },
      setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    });
    try {
      const PRIO_PROCESS = 0;
      const tid = libc.symbols.gettid();
      const nice = Math.min(19, libc.symbols.getpriority(PRIO_PROCESS, tid) + steps);
      return libc.symbols.setpriority(PRIO_PROCESS, tid, nice) === 0 ? nice : undefined;
    } finally {
      libc.close();
    }
  } catch {
    return undefined;
  }
}
