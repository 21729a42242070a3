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
