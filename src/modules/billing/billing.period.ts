/** Billing periods are calendar months in UTC. */

export const MONTHLY_INVOICE = 'monthly_invoice';

export interface BillingMonth {
  /** "2026-10" */
  label: string;
  /** First instant of the month (UTC midnight of its first day). */
  start: Date;
  /** First instant of the next month: usage before it belongs to this month. */
  endExclusive: Date;
  /** Last day of the month (UTC midnight), as the invoice states its period. */
  lastDay: Date;
}

function month(year: number, monthIndex: number): BillingMonth {
  const start = new Date(Date.UTC(year, monthIndex, 1));
  const endExclusive = new Date(Date.UTC(year, monthIndex + 1, 1));
  return {
    label: start.toISOString().slice(0, 7),
    start,
    endExclusive,
    lastDay: new Date(endExclusive.getTime() - 86_400_000),
  };
}

export const monthOf = (instant: Date): BillingMonth => month(instant.getUTCFullYear(), instant.getUTCMonth());

/** The month before the one `now` falls in: the period a monthly close settles. */
export const previousMonth = (now: Date): BillingMonth => month(now.getUTCFullYear(), now.getUTCMonth() - 1);

/** Parses "YYYY-MM"; undefined for anything else. */
export function parseMonth(label: string): BillingMonth | undefined {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(label);
  if (!match) return undefined;
  return month(Number(match[1]), Number(match[2]) - 1);
}

/** The idempotency key the payment provider sees: the same for every close of one tenant and month. */
export const invoiceIdempotencyKey = (tenantId: string, period: BillingMonth): string => `omega:${MONTHLY_INVOICE}:${tenantId}:${period.label}`;

export const formatDate = (date: Date): string => date.toISOString().slice(0, 10);
