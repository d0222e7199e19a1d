import { builder } from '../../builder.js';
import {
  ConflictError,
  DimensionMismatchError,
  ForbiddenError,
  IllegalTransitionError,
  InsufficientCapacityError,
  NotFoundError,
  QuotaExceededError,
  ResourceInUseError,
  ValidationError,
  type FieldIssue,
} from './errors.js';

const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'An expected failure; the concrete type says what a client can do about it',
  fields: (t) => ({ message: t.exposeString('message') }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One invalid input field: its path in the input and why it was refused',
  fields: (t) => ({ path: t.exposeString('path'), message: t.exposeString('message') }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (error) => error.issues }) }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({ resource: t.exposeString('resource'), id: t.exposeString('id') }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: (t) => ({ field: t.exposeString('field') }),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ForbiddenError,
  fields: () => ({}),
});

builder.objectType(IllegalTransitionError, {
  name: 'IllegalTransitionError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof IllegalTransitionError,
  fields: (t) => ({
    resource: t.exposeString('resource'),
    id: t.exposeString('id'),
    currentStatus: t.exposeString('currentStatus', { description: 'The state the thing is in now, lowercase' }),
    requestedStatus: t.exposeString('requestedStatus'),
  }),
});

builder.objectType(QuotaExceededError, {
  name: 'QuotaExceededError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof QuotaExceededError,
  fields: (t) => ({
    quota: t.exposeString('quota', { description: 'cpu_hours, memory_gb_hours or storage_gb' }),
    limit: t.exposeFloat('limit'),
    used: t.exposeFloat('used'),
    requested: t.exposeFloat('requested'),
  }),
});

builder.objectType(InsufficientCapacityError, {
  name: 'InsufficientCapacityError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InsufficientCapacityError,
  fields: (t) => ({ reasons: t.exposeStringList('reasons') }),
});

builder.objectType(ResourceInUseError, {
  name: 'ResourceInUseError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ResourceInUseError,
  fields: (t) => ({
    resource: t.exposeString('resource'),
    id: t.exposeString('id'),
    usedBy: t.exposeString('usedBy'),
    count: t.exposeInt('count'),
  }),
});

builder.objectType(DimensionMismatchError, {
  name: 'DimensionMismatchError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof DimensionMismatchError,
  fields: (t) => ({
    path: t.exposeString('path', { description: 'Where in the input the vector is' }),
    expected: t.exposeInt('expected'),
    actual: t.exposeInt('actual'),
  }),
});
