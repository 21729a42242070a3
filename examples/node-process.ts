/**
 * One Raft node in its own process, driven by its parent over Node's IPC
 * channel: the demo, the multi-process test, the TCP benchmark and the TCP
 * fuzzer all start their nodes with this file (see process-cluster.ts for
 * the parent's side).
 *
 * The node runs a TcpTransport on loopback and a FileStorage (or a
 * MemoryStorage) and a tiny state machine that keeps every applied write,
 * so the parent can read back what was committed. The parent talks to it
 * with small JSON requests:
 *
 *   propose { data }            → { index, term } once committed and applied here
 *   read                        → a linearizable read: every applied write, after readIndex
 *   status                      → node.status() and what this process applied
 *   stats                       → the transport's counters and this process's memory
 *   bench { kind, count, ... }  → a throughput or latency run, measured in this process
 *   stop                        → stops the node and exits
 *
 * and it reports each change of role, term or leader as it happens.
 */
import { RaftNode } from '../src/node.js';
import { FileStorage } from '../src/storage/file.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { TcpTransport } from '../src/tcp.js';
import { NotLeaderError, RaftError } from '../src/errors.js';
import type { Storage } from '../src/storage/storage.js';
import { percentile, proposePipelined } from '../bench/load.js';
import { parseCommandLine } from './cli.js';

export interface NodeProcessConfig {
  readonly id: string;
  /** The voters. */
  readonly ids: readonly string[];
  /** Every node's "host:port", including this one's (it listens there). */
  readonly addresses: Readonly<Record<string, string>>;
  readonly clusterId: string;
  readonly storage: 'file' | 'memory';
  /** FileStorage's directory (storage 'file'). */
  readonly dir?: string;
  readonly electionTimeoutMs?: { readonly min: number; readonly max: number };
  readonly heartbeatIntervalMs?: number;
  /** Ids the transport accepts connections from besides the voters (the fuzzer's). */
  readonly extraPeers?: Readonly<Record<string, string>>;
  /** Log the transport and node to stderr. */
  readonly verbose?: boolean;
}

export type Request =
  | { readonly op: 'propose'; readonly rid: number; readonly data: string }
  | { readonly op: 'read'; readonly rid: number }
  | { readonly op: 'status'; readonly rid: number }
  | { readonly op: 'stats'; readonly rid: number }
  | {
      readonly op: 'bench';
      readonly rid: number;
      readonly kind: 'throughput' | 'latency';
      readonly count: number;
      readonly size: number;
      readonly window: number;
    }
  | { readonly op: 'stop'; readonly rid: number };

export type Event =
  | { readonly op: 'ready'; readonly id: string; readonly pid: number }
  | {
      readonly op: 'state';
      readonly id: string;
      readonly role: string;
      readonly term: number;
      readonly leaderId: string | null;
    }
  | { readonly op: 'reply'; readonly rid: number; readonly ok: true; readonly value: unknown }
  | {
      readonly op: 'reply';
      readonly rid: number;
      readonly ok: false;
      readonly code: string;
      readonly message: string;
      readonly leaderId?: string | null;
    }
  | { readonly op: 'fatal'; readonly id: string; readonly message: string };

const send = (event: Event): void => {
  if (process.connected) process.send!(event);
};

const { argument } = parseCommandLine({
  usage: 'node --import tsx examples/node-process.ts <config>   (started by process-cluster.ts, over IPC)',
  summary: 'Runs one Raft node driven by its parent process over IPC (see process-cluster.ts).',
  options: {},
  argument: { name: 'config', description: "the node's configuration, as JSON (NodeProcessConfig)", required: true },
});
const config = JSON.parse(argument!) as NodeProcessConfig;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The state machine: every applied write, in log order. */
const applied: string[] = [];
let appliedIndex = 0;

const logger = config.verbose
  ? {
      debug: () => undefined,
      info: (o: object, m?: string) => console.error(`[${config.id}] ${m ?? ''} ${JSON.stringify(o)}`),
      warn: (o: object, m?: string) => console.error(`[${config.id}] WARN ${m ?? ''} ${JSON.stringify(o)}`),
      error: (o: object, m?: string) => console.error(`[${config.id}] ERROR ${m ?? ''} ${String(JSON.stringify(o))}`),
    }
  : undefined;

const transport = new TcpTransport({
  id: config.id,
  listen: { host: '127.0.0.1', port: Number(config.addresses[config.id]!.split(':').pop()) },
  peers: { ...config.addresses, ...config.extraPeers },
  clusterId: config.clusterId,
  logger,
});

const storage: Storage =
  config.storage === 'file'
    ? new FileStorage({ dir: config.dir!, logger: logger ?? { info: () => undefined, warn: () => undefined } })
    : new MemoryStorage();

const node = new RaftNode({
  id: config.id,
  peers: [...config.ids],
  transport,
  storage,
  electionTimeoutMs: config.electionTimeoutMs,
  heartbeatIntervalMs: config.heartbeatIntervalMs,
  stateMachine: {
    apply({ index, data }) {
      applied.push(decoder.decode(data));
      appliedIndex = index;
      return undefined;
    },
  },
});

let reported = '';
/** Reports role, term and leader when any of them changed (both events may fire for one change). */
const reportState = (): void => {
  const key = `${node.role}/${node.term}/${node.leaderId}`;
  if (key === reported) return;
  reported = key;
  send({ op: 'state', id: node.id, role: node.role, term: node.term, leaderId: node.leaderId });
};
node.on('roleChanged', reportState);
node.on('leaderChanged', reportState);
node.on('error', (error) => {
  send({ op: 'fatal', id: config.id, message: error.message });
  process.exit(1);
});

function failure(rid: number, error: unknown): Event {
  const message = error instanceof Error ? error.message : String(error);
  const code = RaftError.isInstance(error) ? error.code : error instanceof DOMException ? error.name : 'ERROR';
  return {
    op: 'reply',
    rid,
    ok: false,
    code,
    message,
    leaderId: NotLeaderError.isInstance(error) ? error.leaderId : undefined,
  };
}

/** Proposals measured here, in the leader's process: the library's cost, without the IPC hop. */
async function bench(kind: 'throughput' | 'latency', count: number, size: number, window: number): Promise<unknown> {
  const payload = new Uint8Array(size).fill(7);
  if (kind === 'latency') {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await node.propose(payload);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1] };
  }
  return proposePipelined((data) => node.propose(data), payload, count, window);
}

async function handle(request: Request): Promise<Event> {
  const rid = request.rid;
  switch (request.op) {
    case 'propose': {
      const { index, term } = await node.propose(encoder.encode(request.data), { timeoutMs: 2000 });
      return { op: 'reply', rid, ok: true, value: { index, term } };
    }
    case 'read': {
      const index = await node.readIndex({ timeoutMs: 2000 });
      return { op: 'reply', rid, ok: true, value: { index, appliedIndex, applied } };
    }
    case 'status':
      return { op: 'reply', rid, ok: true, value: { ...node.status(), appliedWrites: applied.length } };
    case 'stats': {
      const memory = process.memoryUsage();
      return {
        op: 'reply',
        rid,
        ok: true,
        value: {
          transport: transport.stats(),
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          maxRssBytes: process.resourceUsage().maxRSS * 1024,
        },
      };
    }
    case 'bench':
      return {
        op: 'reply',
        rid,
        ok: true,
        value: await bench(request.kind, request.count, request.size, request.window),
      };
    case 'stop':
      await node.stop();
      return { op: 'reply', rid, ok: true, value: null };
  }
}

process.on('message', (request: Request) => {
  handle(request).then(
    (event) => {
      send(event);
      if (request.op === 'stop') process.disconnect();
    },
    (error: unknown) => send(failure(request.rid, error)),
  );
});
// The parent is gone (or let go of us): a node without its driver has no reason to live.
process.on('disconnect', () => {
  void node.stop().finally(() => process.exit(0));
});

node.start().then(
  () => {
    send({ op: 'ready', id: config.id, pid: process.pid });
    reportState();
  },
  (error: unknown) => {
    send({ op: 'fatal', id: config.id, message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
