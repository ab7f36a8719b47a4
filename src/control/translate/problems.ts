// What a translation could not do, in words for a person: translation never throws on a bad world; it skips what
// cannot be translated and says so here, once per distinct message, in the order found.

export class Problems {
  private readonly seen = new Set<string>();
  readonly list: string[] = [];

  add(message: string): void {
    if (this.seen.has(message)) return;
    this.seen.add(message);
    this.list.push(message);
  }

  addAll(messages: readonly string[]): void {
    for (const m of messages) this.add(m);
  }
}
