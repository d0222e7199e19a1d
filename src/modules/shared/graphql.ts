/** Small helpers every module's GraphQL layer uses. */

/** GraphQL enum values in UPPER_CASE mapped to the lowercase strings the database stores. */
export function enumValues<T extends string>(values: readonly T[]): Record<Uppercase<T>, { value: T }> {
  return Object.fromEntries(values.map((value) => [value.toUpperCase(), { value }])) as Record<Uppercase<T>, { value: T }>;
}

/** Drops null and undefined entries: GraphQL sends null for omitted optional input fields. */
export function compact<T extends object>(input: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null && value !== undefined)) as never;
}
