import type { RaftMessage } from '../../messages.js';

/**
 * What happened in a simulation, one line per event worth reading. Only the
 * tail is kept unless the whole trace is asked for (replay comparisons).
 */
export class Trace {
  private readonly all: string[] = [];
  private readonly tail: string[] = [];
  private static readonly TAIL = 60;

  constructor(private readonly keepAll: boolean) {}

  add(timeMs: number, line: string): void {
    const text = `${timeMs.toFixed(3).padStart(10)}  ${line}`;
    if (this.keepAll) this.all.push(text);
    this.tail.push(text);
    if (this.tail.length > Trace.TAIL * 2) this.tail.splice(0, this.tail.length - Trace.TAIL);
  }

  text(): string {
    return (this.keepAll ? this.all : this.tail.slice(-Trace.TAIL)).join('\n');
  }
}

/** One trace line for a delivered message: what a reader needs to follow replication and elections. */
export function describeMessage(m: RaftMessage): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'AppendEntries':
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit=${m.leaderCommit}`;
    case 'AppendEntriesResponse':
      return m.success
        ? `${head} ok match=${m.matchIndex}`
        : `${head} reject ${m.rejectedIndex} hint=${m.hintIndex}/${m.hintTerm}`;
    case 'RequestVote':
      return `${head}${m.preVote ? ' pre' : ''}${m.transfer ? ' transfer' : ''} last=${m.lastLogIndex}/${m.lastLogTerm}`;
    case 'RequestVoteResponse':
      return `${head}${m.preVote ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'Heartbeat':
      return `${head} commit=${m.commit} read=${m.readSeq}`;
    case 'HeartbeatResponse':
      return `${head} read=${m.readSeq}`;
    case 'ReadIndexResponse':
      return `${head} ${m.ok ? `index=${m.index}` : 'refused'}`;
    case 'InstallSnapshot':
      return `${head} snapshot=${m.snapshot.index}/${m.snapshot.term} bytes ${m.offset}+${m.data.byteLength} of ${m.totalBytes}`;
    case 'InstallSnapshotResponse':
      return `${head} snapshot=${m.snapshotIndex} received=${m.received}${m.done ? ' done' : ''}`;
    default:
      return head;
  }
}
