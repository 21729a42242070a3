/**
 * Lists what `npm run mutate` left alive, for the triage in test/sim/MUTATION.md:
 * the score per file (killed, timed out, survived, no coverage), then every
 * surviving or uncovered mutant with its place, its mutator and the code it
 * changed. Reads Stryker's JSON report (the mutation-testing-report schema).
 */
import { readFileSync } from 'node:fs';
import { parseCommandLine } from '../examples/cli.js';

const { values, argument } = parseCommandLine({
  usage: 'npx tsx scripts/mutation-survivors.ts [options] [report.json]',
  summary:
    "Summarises Stryker's JSON report (default reports/mutation/mutation.json) and lists the mutants left alive.",
  options: {
    'scores-only': { type: 'boolean', description: 'print the scores, not the list of mutants' },
    'timeout-ranges': {
      type: 'boolean',
      description: 'print only the --mutate ranges of the mutants that timed out (for stryker.rerun.config.mjs)',
    },
  },
  argument: { name: 'report.json', description: 'the report to read' },
});

interface Mutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: string;
  readonly location: {
    readonly start: { line: number; column: number };
    readonly end: { line: number; column: number };
  };
}

interface Report {
  readonly files: Record<string, { readonly source: string; readonly mutants: readonly Mutant[] }>;
}

const report = JSON.parse(readFileSync(argument ?? 'reports/mutation/mutation.json', 'utf8')) as Report;
const STATUSES = ['Killed', 'Timeout', 'Survived', 'NoCoverage', 'CompileError', 'RuntimeError'] as const;

/** The source text a mutant replaced (its first line, trimmed). */
function original(source: string, m: Mutant): string {
  const lines = source.split('\n');
  const { start, end } = m.location;
  const text =
    start.line === end.line
      ? lines[start.line - 1].slice(start.column - 1, end.column - 1)
      : lines[start.line - 1].slice(start.column - 1) + ' …';
  return text.trim();
}

const totals = new Map<string, number>();
const rows: string[] = [];
const alive: string[] = [];
for (const [path, file] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const counts = new Map<string, number>();
  for (const m of file.mutants) {
    counts.set(m.status, (counts.get(m.status) ?? 0) + 1);
    totals.set(m.status, (totals.get(m.status) ?? 0) + 1);
    if (m.status === 'Survived' || m.status === 'NoCoverage') {
      const line = m.location.start.line;
      alive.push(
        `${m.status === 'Survived' ? 'S' : 'N'} ${path}:${line} #${m.id} ${m.mutatorName}: ${original(file.source, m)} -> ${m.replacement ?? '?'}`,
      );
    }
  }
  rows.push(`${path}: ${STATUSES.map((s) => `${s} ${counts.get(s) ?? 0}`).join(', ')}`);
}

/** Stryker's score: detected (killed + timed out) over valid mutants (all but compile and runtime errors). */
function score(counts: Map<string, number>): string {
  const detected = (counts.get('Killed') ?? 0) + (counts.get('Timeout') ?? 0);
  const valid = detected + (counts.get('Survived') ?? 0) + (counts.get('NoCoverage') ?? 0);
  return valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(2)}%`;
}

if (values['timeout-ranges']) {
  const ranges = new Set<string>();
  for (const [path, file] of Object.entries(report.files)) {
    for (const m of file.mutants) {
      if (m.status !== 'Timeout') continue;
      const { start, end } = m.location;
      ranges.add(`${path}:${start.line}:${start.column}-${end.line}:${end.column}`);
    }
  }
  console.log([...ranges].join(','));
  process.exit(0);
}

console.log(rows.join('\n'));
console.log(`total: ${STATUSES.map((s) => `${s} ${totals.get(s) ?? 0}`).join(', ')}; score ${score(totals)}`);
if (!values['scores-only']) console.log(`\n${alive.join('\n')}`);
