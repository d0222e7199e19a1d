/**
 * List filter fields on the global IDs of types whose modules import this one (ClusterNode, Session),
 * so their refs cannot be imported here: the type is checked by name, and an ID of another type is
 * refused naming the argument.
 */
import { ValidationError } from '../shared/errors.js';
import { custom, uuidIs, type FilterField } from '../shared/list-query.js';

interface GlobalId {
  typename: string;
  id: string;
}

/** The row id of a global ID that must be of `typename`, refused naming `path` otherwise. */
export function rowIdOf(value: unknown, typename: string, path: string): string {
  const id = value as GlobalId;
  if (id.typename !== typename) throw new ValidationError([{ path, message: `must be the ID of a ${typename}` }]);
  return uuidIs('id').where(id.id, path, 'id').id as string;
}

/** Rows whose `column` holds the entity of this global ID, which must be of `typename`. */
export const idOfTypeIs = (typename: string, column: string, description = `A ${typename} id`): FilterField =>
  custom(
    (t) => t.globalID({ required: false, description }),
    (value, path) => ({ [column]: rowIdOf(value, typename, path) }),
  );

/** Rows whose `column` holds any of these global IDs, each of `typename`. */
export const idOfTypeIn = (typename: string, column: string, description = `Any of these ${typename} ids`): FilterField =>
  custom(
    (t) => t.globalIDList({ required: false, description }),
    (value, path) => ({ [column]: { in: (value as unknown[]).map((id, index) => rowIdOf(id, typename, `${path}.${index}`)) } }),
  );
