/**
 * A Pothos-planned Prisma read that loads its relations in the same statement (Prisma's relation
 * joins: LATERAL subqueries aggregated to JSON) instead of one more statement per relation level.
 */
export function inOneStatement<Query extends object>(query: Query): Query & { relationLoadStrategy: 'join' } {
  return { ...query, relationLoadStrategy: 'join' };
}
