import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

/** Runs one README block as a user would: an ES module importing the built package by name. */
function runBlock(name: string, code: string): { status: number | null; stdout: string; stderr: string } {
  const dir = join(root, '.tmp', 'readme');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.mts`);
  writeFileSync(file, code);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('README', () => {
  it('has the package built, so its examples import "bellwether" as users do', () => {
    expect(existsSync(join(root, 'dist', 'index.js')), 'run `npm run build` (npm test does)').toBe(true);
  });

  it('quick start runs exactly as written: elects, commits, reads from a follower', () => {
    const quickStart = blocks.find((b) => b.includes('new RaftNode(') && b.includes('new FileStorage('));
    expect(quickStart).toBeDefined();
    const { status, stdout, stderr } = runBlock('quick-start', quickStart!);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/committed at index \d+; the state machine now holds 1 key\(s\)/);
    expect(stdout).toMatch(/follower [abc] is safe to read at index \d+/);
    // Every node reported the same leader.
    const leaders = new Set([...stdout.matchAll(/leader is ([abc]) \(term/g)].map((m) => m[1]));
    expect(leaders.size).toBe(1);
  });

  it('the transport example runs as written', () => {
    const example = blocks.find((b) => b.includes('class LocalBus'));
    expect(example).toBeDefined();
    const { status, stdout, stderr } = runBlock('transport', example!);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout.trim()).toBe('a received TimeoutNow');
  });

  it('the simulator example runs as written and reports a safe run', () => {
    const example = blocks.find((b) => b.includes('new Simulator('));
    expect(example).toBeDefined();
    const { status, stdout, stderr } = runBlock('simulator', example!);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout.trim()).toBe('safe');
  });

  it('the TCP example runs as written: three nodes over loopback commit an entry', () => {
    const example = blocks.find((b) => b.includes('new TcpTransport('));
    expect(example).toBeDefined();
    const { status, stdout, stderr } = runBlock('tcp', example!);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/committed at index \d+ over TCP/);
  });

  it("the snapshot example runs as written: a follower cut off catches up from the leader's snapshot", () => {
    const example = blocks.find((b) => b.includes('leader.snapshot()'));
    expect(example).toBeDefined();
    const { status, stdout, stderr } = runBlock('snapshots', example!);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const taken = /leader took a snapshot at index (\d+) \((\d+) bytes\)/.exec(stdout);
    expect(taken).not.toBeNull();
    // 500 writes and the leader's empty entry, at least; 500 keys of JSON.
    expect(Number(taken![1])).toBeGreaterThanOrEqual(501);
    expect(Number(taken![2])).toBeGreaterThan(500 * 10);
    expect(stdout).toMatch(/[abc] installed the leader's snapshot at index \d+/);
    expect(stdout).toMatch(/[abc] caught up: 500 keys/);
  });

  it('every TypeScript block in the README is run by a test here', () => {
    const covered = ['new RaftNode(', 'class LocalBus', 'new Simulator(', 'new TcpTransport(', 'leader.snapshot()'];
    for (const block of blocks) expect(covered.some((marker) => block.includes(marker))).toBe(true);
  });
});
