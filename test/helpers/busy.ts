/**
 * A small machine with every actor on (guest destruction too) and the fixed protocol: two nested
 * guests of 16M sharing 4 vCPUs, L1 of 128M with a read-only slot, dirty logging and 2M pages,
 * a host of 512M with 2M backing, and L1's own accesses. Concurrency tests add their seed, run
 * length, audit rate and layout (`l1.count`, `threads`) to it.
 */
export const EVERY_ACTOR = {
  vcpus: 4,
  protocol: 'fixed',
  guests: { count: 2, memory: '16M', vcpuMap: 'spread' },
  l1: { memory: '128M', readonly: '8M', dirtyLog: true, pageSizes: { '4K': 3, '2M': 1 } },
  host: { memory: '512M', backing: { '4K': 2, '2M': 1 } },
  workload: { pattern: 'uniform', writeRatio: 0.4, execRatio: 0.05, workingSet: '4M', l1Ratio: 0.1 },
  actors: {
    l1: { unmap: 2, protect: 2, clean: 2, rangeFlush: 0.5, lpidFlush: 0.1, destroy: 0.2 },
    host: { migrate: 2, swap: 1, age: 2, harvest: 0.2, memslotFlush: 0.1 },
  },
};
