import { createHash } from 'node:crypto';

/**
 * Names for the statements worth preparing: a statement text the server has run before gets a name
 * derived from the text, so each connection parses and plans it once and then only binds and
 * executes it (node-postgres keeps each connection's prepared names). Texts carry no values (they
 * are parameterised), so the set of texts is the set of query shapes; at most `limit` of them are
 * named, the first ones seen twice, and the rest run unnamed as before. A limit of 0 prepares
 * nothing (for a connection pooler that cannot keep prepared statements).
 */
export class PreparedStatementNames {
  private readonly names = new Map<string, string>();
  private seen = new Set<string>();

  constructor(private readonly limit: number) {}

  nameOf(text: string): string | undefined {
    const name = this.names.get(text);
    if (name !== undefined || this.names.size >= this.limit) return name;
    if (!this.seen.has(text)) {
      // Texts seen once are only candidates; forget them all when there are many.
      if (this.seen.size >= 4 * this.limit) this.seen = new Set();
      this.seen.add(text);
      return undefined;
    }
    this.seen.delete(text);
    const named = `omega_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    this.names.set(text, named);
    return named;
  }
}
