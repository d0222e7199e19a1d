import { z } from 'zod';
import { ValidationError } from '../shared/errors.js';
import { parseInput } from '../shared/validation.js';
import { parseMonth, type BillingMonth } from './billing.period.js';

export const BILLING_EVENT_STATUSES = ['pending', 'sent', 'failed'] as const;
export type BillingEventStatus = (typeof BILLING_EVENT_STATUSES)[number];
export const BILLING_DELIVERY_OUTCOMES = ['sent', 'failed'] as const;

/** A month that has ended: closing one still running would bill part of it. */
const endedMonth = z
  .string()
  .trim()
  .transform((label, ctx): BillingMonth => {
    const period = parseMonth(label);
    if (!period) {
      ctx.addIssue({ code: 'custom', message: 'must be a month as YYYY-MM' });
      return z.NEVER;
    }
    if (period.endExclusive.getTime() > Date.now()) {
      ctx.addIssue({ code: 'custom', message: 'has not ended yet' });
      return z.NEVER;
    }
    return period;
  });

const closeBillingPeriodInput = z.object({ month: endedMonth });

export const parseCloseBillingPeriod = (input: unknown): { month: BillingMonth } => parseInput(closeBillingPeriodInput, input);

const billingEventDeliveryInput = z
  .object({
    outcome: z.enum(BILLING_DELIVERY_OUTCOMES),
    error: z.string().trim().min(1).max(2000).nullish(),
  })
  .refine((input) => input.outcome === 'failed' || !input.error, { path: ['error'], message: 'is only given for a failed delivery' })
  .refine((input) => input.outcome === 'sent' || !!input.error, { path: ['error'], message: 'says why the delivery failed' });

export type BillingEventDeliveryInput = z.output<typeof billingEventDeliveryInput>;

export const parseBillingEventDelivery = (input: unknown): BillingEventDeliveryInput => parseInput(billingEventDeliveryInput, input);

/** The billing month a list is narrowed to; anything but YYYY-MM is refused under the argument's path. */
export function filterMonth(value: unknown, path: string): BillingMonth {
  const period = typeof value === 'string' ? parseMonth(value.trim()) : undefined;
  if (!period) throw new ValidationError([{ path, message: 'must be a month as YYYY-MM' }]);
  return period;
}
