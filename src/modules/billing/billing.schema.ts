import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { formatDate } from './billing.period.js';
import type { ClosedPeriod, InvoiceLineItem } from './billing.service.js';
import { BILLING_DELIVERY_OUTCOMES, BILLING_EVENT_STATUSES, filterMonth } from './billing.validation.js';
import { formatUsd } from './usage.service.js';
import { anyOf, atLeast, atMost, below, custom, defineList } from '../shared/list-query.js';
import { mutationErrors, withGraphQLErrors } from '../shared/graphql-errors.js';

const enumValues = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((value) => [value.toUpperCase(), { value }])) as Record<Uppercase<T>, { value: T }>;

export const BillingEventStatusEnum = builder.enumType('BillingEventStatus', { values: enumValues(BILLING_EVENT_STATUSES) });
const BillingDeliveryOutcomeEnum = builder.enumType('BillingDeliveryOutcome', { values: enumValues(BILLING_DELIVERY_OUTCOMES) });

const InvoiceLineItemRef = builder.objectRef<InvoiceLineItem>('InvoiceLineItem').implement({
  description: "One model's usage in a billing period",
  fields: (t) => ({
    modelId: t.exposeString('modelId'),
    modelName: t.exposeString('modelName'),
    requests: t.exposeInt('requests'),
    promptTokens: t.exposeFloat('promptTokens'),
    completionTokens: t.exposeFloat('completionTokens'),
    totalTokens: t.exposeFloat('totalTokens'),
    amountUsd: t.exposeString('amountUsd', { description: 'Exact USD amount with six decimals' }),
  }),
});

export const BillingEventRef = builder.prismaNode('BillingEvent', {
  description: 'An invoice-ready event in the outbox for the payment provider',
  id: { field: 'id' },
  fields: (t) => ({
    eventType: t.exposeString('eventType'),
    month: t.string({ description: 'The billing month, YYYY-MM', resolve: (e) => e.periodStart.toISOString().slice(0, 7) }),
    periodStart: t.string({ description: 'First day of the period, YYYY-MM-DD', resolve: (e) => formatDate(e.periodStart) }),
    periodEnd: t.string({ description: 'Last day of the period, YYYY-MM-DD', resolve: (e) => formatDate(e.periodEnd) }),
    amountUsd: t.string({ description: 'Exact USD total with six decimals', resolve: (e) => formatUsd(e.amountUsd) }),
    currency: t.exposeString('currency'),
    lineItems: t.field({ type: [InvoiceLineItemRef], resolve: (e) => e.lineItems as unknown as InvoiceLineItem[] }),
    idempotencyKey: t.exposeString('idempotencyKey', { description: 'Send it to the payment provider so a resend never bills twice' }),
    status: t.field({ type: BillingEventStatusEnum, resolve: (e) => e.status as never }),
    attempts: t.exposeInt('attempts'),
    lastError: t.exposeString('lastError', { nullable: true }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const BillingPeriodCloseRef = builder.objectRef<ClosedPeriod>('BillingPeriodClose').implement({
  description: "The outcome of closing a month: the tenant's invoice event, if it had usage",
  fields: (t) => ({
    month: t.string({ resolve: (close) => close.month.label }),
    created: t.exposeBoolean('created', { description: 'False when an earlier close had already produced the event' }),
    billingEvent: t.prismaField({ type: 'BillingEvent', nullable: true, resolve: (_query, close) => close.event }),
  }),
});

const billingEventList = defineList({
  name: 'BillingEvent',
  filter: {
    status: anyOf(BillingEventStatusEnum, undefined, 'Events in any of these states'),
    month: custom(
      (t) => t.string({ required: false, description: 'Events of this billing month, YYYY-MM' }),
      (value, path) => ({ periodStart: filterMonth(value, path).start }),
    ),
    eventType: anyOf('String', undefined, 'Events of any of these types'),
    periodFrom: atLeast('periodStart', 'DateTime', 'Events whose period starts at or after this'),
    periodTo: below('periodStart', 'DateTime', 'Events whose period starts before this'),
    minAmountUsd: atLeast('amountUsd', 'Float'),
    maxAmountUsd: atMost('amountUsd', 'Float'),
    minAttempts: atLeast('attempts', 'Int', 'Events reported to the provider at least this often'),
    createdAfter: atLeast('createdAt', 'DateTime', 'Inclusive'),
    createdBefore: below('createdAt', 'DateTime', 'Exclusive'),
  },
  orderBy: {
    PERIOD_START: 'periodStart',
    CREATED_AT: 'createdAt',
    AMOUNT_USD: 'amountUsd',
    STATUS: 'status',
    ATTEMPTS: 'attempts',
    SENT_AT: { column: 'sentAt', nulls: 'last' },
  },
  defaultOrder: ['PERIOD_START', 'desc'],
  tieBreakers: ['seq', 'id'],
});

builder.queryFields((t) => ({
  billingEvents: t.prismaConnection({
    type: 'BillingEvent',
    cursor: 'id',
    description: "The tenant's billing events, newest period first: the outbox with each event's status",
    authScopes: { permission: 'billing:read' },
    args: { filter: t.arg({ type: billingEventList.Filter, required: false }), orderBy: t.arg({ type: [billingEventList.Order], required: false }) },
    totalCount: (_root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.billingEvent.count({ where: billingEventList.where({ tenantId: tenantOf(ctx) }, args.filter) })),
    resolve: (query, _root, args, ctx) =>
      withGraphQLErrors(() => ctx.prisma.billingEvent.findMany(billingEventList.page(query, { tenantId: tenantOf(ctx) }, args))),
  }),
  billingEvent: t.prismaField({
    type: 'BillingEvent',
    nullable: true,
    description: 'One billing event by its ID, or null when the tenant has none such',
    authScopes: { permission: 'billing:read' },
    args: { id: t.arg.globalID({ required: true, for: BillingEventRef }) },
    resolve: (query, _root, args, ctx) => ctx.prisma.billingEvent.findFirst({ ...query, where: { id: args.id.id, tenantId: tenantOf(ctx) } }),
  }),
}));

const CloseBillingPeriodInput = builder.inputType('CloseBillingPeriodInput', {
  fields: (t) => ({ month: t.string({ required: true, description: 'An ended month, YYYY-MM (UTC)' }) }),
});

const RecordBillingEventDeliveryInput = builder.inputType('RecordBillingEventDeliveryInput', {
  fields: (t) => ({
    id: t.globalID({ required: true, for: BillingEventRef }),
    outcome: t.field({ type: BillingDeliveryOutcomeEnum, required: true }),
    error: t.string({ required: false, description: 'Why the provider refused or could not be reached (FAILED only)' }),
  }),
});

builder.mutationFields((t) => ({
  closeBillingPeriod: t.field({
    type: BillingPeriodCloseRef,
    description: "Closes an ended month for the caller's tenant: at most one invoice event per month, however often it runs",
    authScopes: { permission: 'billing:write' },
    errors: mutationErrors('CloseBillingPeriod', 'close', [ValidationError]),
    args: { input: t.arg({ type: CloseBillingPeriodInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.billing.closeMonthForTenant(tenantOf(ctx), args.input),
  }),
  recordBillingEventDelivery: t.field({
    type: BillingEventRef,
    description: 'Reports what the payment provider did with an outbox event; a sent event is final',
    authScopes: { permission: 'billing:write' },
    errors: mutationErrors('RecordBillingEventDelivery', 'billingEvent', [ValidationError, NotFoundError, ConflictError]),
    args: { input: t.arg({ type: RecordBillingEventDeliveryInput, required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.billing.recordDelivery(tenantOf(ctx), args.input.id.id, { outcome: args.input.outcome, error: args.input.error }),
  }),
}));
