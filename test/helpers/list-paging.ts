import type { ExecutionResult } from 'graphql';

interface Page<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/** Every row of a list, read page by page with `after` cursors, in the order the pages give them. */
export async function everyPage<T>(read: (after: string | null) => Promise<Page<T>>): Promise<T[]> {
  const rows: T[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await read(after);
    rows.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return rows;
    after = page.pageInfo.endCursor ?? null;
  }
  throw new Error('the list did not end within 100 pages');
}

/** The code and the argument paths of a refused read. */
export function refusalOf(result: ExecutionResult<unknown>): { code: unknown; paths: string[] } {
  const error = result.errors?.[0];
  const issues = (error?.extensions?.issues ?? []) as { path: string }[];
  return { code: error?.extensions?.code, paths: issues.map((issue) => issue.path) };
}
