import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemEventsDocument } from './generated/graphql.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

describe('system events come back in the order they were written', () => {
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    server = await startTestServer('pglite', { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
  }, 120_000);
  afterAll(async () => server?.close());

  it('orders events of one transaction (one timestamp) by when each was written, newest first, across pages', async () => {
    const written = Array.from({ length: 12 }, (_, i) => `step ${i}`);
    // One timestamp for all, as rows stamped with one transaction's now(): random UUIDs would order them arbitrarily.
    const at = new Date();
    await server.db.system.$transaction(async (tx) => {
      for (const message of written) {
        await tx.systemEvent.create({ data: { tenantId: admin.tenantId, timestamp: at, eventType: 'order.test', severity: 'info', sourceComponent: 'test', message } });
      }
    });
    const stamps = await server.db.system.systemEvent.findMany({ where: { tenantId: admin.tenantId }, select: { timestamp: true }, distinct: ['timestamp'] });
    expect(stamps).toHaveLength(1);

    const read: string[] = [];
    let after: string | null | undefined;
    do {
      const page = (await admin.request(SystemEventsDocument, { first: 5, after, filter: { eventType: 'order.test' } })).data!.systemEvents;
      read.push(...page.edges.map((edge) => edge.node.message));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(read).toEqual([...written].reverse());
  });
});
