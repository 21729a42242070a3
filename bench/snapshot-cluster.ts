import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RaftNode } from '../src/node.js';
import type { SnapshotSettings, StateMachine } from '../src/options.js';
import { FileStorage } from '../src/storage/file.js';
import { MemoryStorage } from '../src/storage/memory.js';
import type { Storage } from '../src/storage/storage.js';
import { MemoryNetwork } from '../src/testing/memory-network.js';
import { stableLeader } from './load.js';

export type StorageKind = 'memory' | 'file';

/** Rows of the benchmark state machine, 16 bytes each: a 64 KiB state. */
const ROWS = 4096;
const ROW_BYTES = 16;

/**
 * The benchmarks' state machine: a fixed table of 4,096 rows of 16 bytes
 * (64 KiB), each 16-byte proposal overwriting the row its first bytes name.
 * Its state stays the same size however long the log grows, as a real
 * service's does once its keys are all written, so what grows with the
 * log is the library's alone; its snapshot is a copy of the table.
 */
export function tableMachine(): StateMachine & { readonly applied: () => number } {
  let table = new Uint8Array(ROWS * ROW_BYTES);
  let applied = 0;
  return {
    applied: () => applied,
    apply({ data }) {
      const row = (data[0] | (data[1] << 8)) % ROWS;
      table.set(data.subarray(0, ROW_BYTES), row * ROW_BYTES);
      applied++;
    },
    snapshot: () => table.slice(),
    restore(snapshot) {
      table = snapshot.slice();
    },
  };
}

/** Proposal `i`: 16 bytes whose first two name row i % 4096. */
export function payload(i: number): Uint8Array {
  const data = new Uint8Array(ROW_BYTES).fill(7);
  data[0] = i & 0xff;
  data[1] = (i >>> 8) & 0xff;
  return data;
}

/**
 * Proposes `count` entries through `leader`, `window` in flight, until
 * `count` resolved or `stop()` turns true; returns how many resolved and in
 * how long.
 */
export async function proposeMany(
  leader: RaftNode,
  count: number,
  window: number,
  stop: () => boolean = () => false,
): Promise<{ done: number; seconds: number }> {
  let issued = 0;
  let done = 0;
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const issue = (): void => {
      if (stop() && issued === done) return resolve();
      while (!stop() && issued < count && issued - done < window) {
        leader.propose(payload(issued++)).then(() => {
          done++;
          if (done === count) resolve();
          else issue();
        }, reject);
      }
    };
    issue();
  });
  return { done, seconds: (performance.now() - start) / 1000 };
}

/** Resolves once `ready()` holds, checking every millisecond; rejects after `timeoutMs`. */
export async function until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * Three nodes in one process over MemoryNetwork, each on its own
 * MemoryStorage or FileStorage, with default options except `snapshots`.
 * A node is restarted as a process would restart it: a new RaftNode and a
 * new state machine over the same storage (the same MemoryStorage object,
 * or a new FileStorage on the same directory).
 */
export class SnapshotCluster {
  readonly ids = ['a', 'b', 'c'];
  readonly nodes = new Map<string, RaftNode>();
  readonly machines = new Map<string, ReturnType<typeof tableMachine>>();
  private readonly net = new MemoryNetwork({ seed: 42 });
  private readonly memory = new Map<string, MemoryStorage>();

  constructor(
    readonly kind: StorageKind,
    /** FileStorage: where each node's directory goes. */
    private readonly base: string,
    private readonly snapshots: Partial<SnapshotSettings> | false | undefined,
  ) {}

  dir(id: string): string {
    return join(this.base, `node-${id}`);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.start(id)));
  }

  /** Starts node `id`; `listen` sees it before it starts, so no event is missed. */
  async start(id: string, listen: (node: RaftNode) => void = () => undefined): Promise<RaftNode> {
    const machine = tableMachine();
    const node = new RaftNode({
      id,
      peers: this.ids,
      transport: this.net.transport(id),
      storage: this.storage(id),
      stateMachine: machine,
      ...(this.snapshots === undefined ? {} : { snapshots: this.snapshots }),
    });
    this.nodes.set(id, node);
    this.machines.set(id, machine);
    listen(node);
    await node.start();
    return node;
  }

  async stop(id: string): Promise<void> {
    await this.nodes.get(id)?.stop();
    this.nodes.delete(id);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((id) => this.stop(id)));
  }

  leader(): Promise<RaftNode> {
    return stableLeader(() => [...this.nodes.values()]);
  }

  /** Resolves once every running node has applied through `index`. */
  allApplied(index: number, timeoutMs = 120_000): Promise<void> {
    return until(
      () => [...this.nodes.values()].every((n) => n.status().appliedIndex >= index),
      timeoutMs,
      `every node to apply ${index}`,
    );
  }

  private storage(id: string): Storage {
    if (this.kind === 'file') return new FileStorage({ dir: this.dir(id) });
    let storage = this.memory.get(id);
    if (storage === undefined) {
      storage = new MemoryStorage();
      this.memory.set(id, storage);
    }
    return storage;
  }
}

/** What a directory holds: each file's name and size, and the bytes the file system allocated for them. */
export async function directoryUse(
  dir: string,
): Promise<{ files: { name: string; bytes: number }[]; bytes: number; allocated: number }> {
  const files: { name: string; bytes: number }[] = [];
  let bytes = 0;
  let allocated = 0;
  for (const name of (await readdir(dir)).sort()) {
    const s = await stat(join(dir, name));
    if (!s.isFile()) continue;
    files.push({ name, bytes: s.size });
    bytes += s.size;
    allocated += s.blocks * 512;
  }
  return { files, bytes, allocated };
}

/** Resident memory after a full collection (when the process runs with --expose-gc), in MiB. */
export async function settledRss(): Promise<{ rss: number; heap: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 };
}
