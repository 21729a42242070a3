/**
 * The parent's side of a cluster of node processes (examples/node-process.ts)
 * on loopback: start, SIGKILL and restart nodes, follow their roles, and send
 * writes to whichever node leads.
 */
import { type ChildProcess, fork } from 'node:child_process';
import net from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Event, NodeProcessConfig, Request } from './node-process.js';

/** A request without its id (the cluster numbers them). */
export type RequestBody = Request extends infer R ? (R extends unknown ? Omit<R, 'rid'> : never) : never;

const NODE_SCRIPT = fileURLToPath(new URL('./node-process.ts', import.meta.url));
/** tsx's loader, found from this file so the nodes start whatever the working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface NodeState {
  readonly role: string;
  readonly term: number;
  readonly leaderId: string | null;
}

export interface ProcessClusterOptions {
  readonly ids?: readonly string[];
  readonly storage: 'file' | 'memory';
  /** Parent directory for the nodes' FileStorage directories (one subdirectory per node). */
  readonly dir?: string;
  readonly clusterId?: string;
  readonly electionTimeoutMs?: { readonly min: number; readonly max: number };
  readonly heartbeatIntervalMs?: number;
  /** Extra ids the nodes' transports accept (with unreachable addresses). */
  readonly extraPeers?: Readonly<Record<string, string>>;
  readonly verbose?: boolean;
  /** Called on every change of a node's role, term or leader, and when it dies. */
  readonly onState?: (id: string, state: NodeState | null) => void;
}

/** A request failed: `code` is a bellwether error code, or DEAD when the process died before answering. */
export class NodeRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly leaderId: string | null = null,
  ) {
    super(message);
  }
}

interface Member {
  child: ChildProcess | null;
  state: NodeState | null;
  pending: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
  exited: Promise<void>;
}

/** Ports that were free a moment ago (bound to port 0 together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ProcessCluster {
  readonly ids: readonly string[];
  private addresses: Record<string, string> = {};
  private readonly members = new Map<string, Member>();
  private rid = 0;
  /** Wakes whoever waits for a state change. */
  private stateWaiters: (() => void)[] = [];

  constructor(private readonly options: ProcessClusterOptions) {
    this.ids = options.ids ?? ['a', 'b', 'c'];
  }

  /** The "host:port" of each node. */
  get peerAddresses(): Readonly<Record<string, string>> {
    return this.addresses;
  }

  async start(): Promise<void> {
    const ports = await freePorts(this.ids.length);
    this.addresses = Object.fromEntries(this.ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    await Promise.all(this.ids.map((id) => this.spawn(id)));
  }

  /** Starts node `id`'s process (again, after a kill); resolves once its node has started. */
  spawn(id: string): Promise<void> {
    const config: NodeProcessConfig = {
      id,
      ids: this.ids,
      addresses: this.addresses,
      clusterId: this.options.clusterId ?? 'demo',
      storage: this.options.storage,
      dir: this.options.dir === undefined ? undefined : `${this.options.dir}/${id}`,
      electionTimeoutMs: this.options.electionTimeoutMs,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      extraPeers: this.options.extraPeers,
      verbose: this.options.verbose,
    };
    const child = fork(NODE_SCRIPT, [JSON.stringify(config)], {
      // The node runs TypeScript straight from the sources.
      execArgv: ['--import', TSX_LOADER],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const member: Member = {
      child,
      state: null,
      pending: new Map(),
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    this.members.set(id, member);
    return new Promise<void>((resolve, reject) => {
      child.on('message', (event: Event) => {
        switch (event.op) {
          case 'ready':
            resolve();
            break;
          case 'state':
            member.state = { role: event.role, term: event.term, leaderId: event.leaderId };
            this.options.onState?.(id, member.state);
            this.wakeStateWaiters();
            break;
          case 'reply': {
            const waiter = member.pending.get(event.rid);
            member.pending.delete(event.rid);
            if (event.ok) waiter?.resolve(event.value);
            else waiter?.reject(new NodeRequestError(event.code, event.message, event.leaderId ?? null));
            break;
          }
          case 'fatal':
            reject(new Error(`node ${id} failed: ${event.message}`));
            break;
        }
      });
      child.once('exit', (code, signal) => {
        member.child = null;
        member.state = null;
        for (const waiter of member.pending.values()) {
          waiter.reject(new NodeRequestError('DEAD', `node ${id} exited (${signal ?? code}) before answering`));
        }
        member.pending.clear();
        this.options.onState?.(id, null);
        this.wakeStateWaiters();
        reject(new Error(`node ${id} exited (${signal ?? code}) while starting`));
      });
    });
  }

  isRunning(id: string): boolean {
    return (this.members.get(id)?.child ?? null) !== null;
  }

  state(id: string): NodeState | null {
    return this.members.get(id)?.state ?? null;
  }

  /** The running node that says it leads, at the highest term; null if none. */
  leader(): string | null {
    let best: { id: string; term: number } | null = null;
    for (const [id, m] of this.members) {
      if (m.child !== null && m.state?.role === 'leader' && (best === null || m.state.term > best.term)) {
        best = { id, term: m.state.term };
      }
    }
    return best?.id ?? null;
  }

  /** Waits until `predicate` holds over the latest states (checked on every change). */
  async waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.stateWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for a leader that every running node follows; returns its id. */
  async waitForStableLeader(timeoutMs = 10_000): Promise<string> {
    let leader: string | null = null;
    await this.waitUntil(
      () => {
        leader = this.leader();
        const l = leader;
        return l !== null && [...this.members.values()].every((m) => m.child === null || m.state?.leaderId === l);
      },
      timeoutMs,
      'a stable leader',
    );
    return leader!;
  }

  /** Sends one request to node `id`'s process. */
  request<T>(id: string, request: RequestBody): Promise<T> {
    const member = this.members.get(id);
    const child = member?.child ?? null;
    if (member === undefined || child === null || !child.connected) {
      return Promise.reject(new NodeRequestError('DEAD', `node ${id} is not running`));
    }
    const rid = ++this.rid;
    return new Promise<T>((resolve, reject) => {
      member.pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...request, rid }, (error) => {
        if (error) {
          member.pending.delete(rid);
          reject(new NodeRequestError('DEAD', `node ${id}: ${error.message}`));
        }
      });
    });
  }

  /**
   * Writes `data` through the current leader: resolves with where it was
   * committed, once the leader applied it. Retries, at the hinted or newly
   * elected leader, only when nothing was appended (NOT_LEADER, no leader);
   * any other failure rejects, its outcome unknown, and is never retried,
   * so a write is never committed twice.
   */
  async propose(data: string, timeoutMs = 5000): Promise<{ index: number; term: number; leader: string }> {
    const deadline = performance.now() + timeoutMs;
    let hint: string | null = null;
    for (;;) {
      const target = hint !== null && this.isRunning(hint) ? hint : this.leader();
      hint = null;
      if (target === null) {
        if (performance.now() > deadline) throw new NodeRequestError('NO_LEADER', 'no leader in time');
        await this.waitUntil(() => this.leader() !== null, Math.max(1, deadline - performance.now()), 'a leader').catch(
          () => undefined,
        );
        continue;
      }
      try {
        const result = await this.request<{ index: number; term: number }>(target, { op: 'propose', data });
        return { ...result, leader: target };
      } catch (error) {
        if (!(error instanceof NodeRequestError) || error.code !== 'NOT_LEADER' || performance.now() > deadline)
          throw error;
        hint = error.leaderId;
        // Our view of the leader was stale; give the states a moment to catch up.
        if (hint === null) await sleep(5);
      }
    }
  }

  /** SIGKILLs node `id`'s process and waits until it is gone. */
  async kill(id: string): Promise<void> {
    const member = this.members.get(id);
    if (member === undefined || member.child === null) return;
    member.child.kill('SIGKILL');
    await member.exited;
  }

  /** Stops every node gracefully (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.members.entries()].map(async ([id, member]) => {
        if (member.child === null) return;
        const timer = setTimeout(() => member.child?.kill('SIGKILL'), 5000);
        await this.request(id, { op: 'stop' }).catch(() => undefined);
        await member.exited;
        clearTimeout(timer);
      }),
    );
  }

  private wakeStateWaiters(): void {
    for (const wake of this.stateWaiters.splice(0)) wake();
  }
}
