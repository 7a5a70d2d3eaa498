/**
 * Loads a room's fields can start alongside the room's own. `room(id:)` first checks that the
 * viewer may see the room (its state), and GraphQL resolves a field only once its parent has
 * resolved: a room page's timeline would wait a round trip for that check. A module that defines
 * a Room field registers here a prefetcher that, given the selection of the room, starts that
 * field's load at once; the field's resolver then finds it started (each memoises its own loads
 * per request). A load started for a room the viewer may not see is refused by the homeserver
 * like the check itself, and nobody reads it.
 */
import {
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLObjectType,
  type GraphQLResolveInfo,
  getArgumentValues,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from './builder.ts';

/** Starts what `field` (a selection of a Room) will need; must not throw or reject. */
type Prefetcher = (
  context: Context,
  roomId: string,
  field: FieldNode,
  info: GraphQLResolveInfo,
) => void;

const prefetchers = new Map<string, Prefetcher>();

/** Registers the prefetcher of the Room field `name`. */
export function prefetchRoomField(name: string, prefetcher: Prefetcher): void {
  prefetchers.set(name, prefetcher);
}

/**
 * Starts the registered loads that the selection of the room `info` resolves asks for. Fields
 * under a directive (`@include`, `@skip`) and fragments on other types are left to resolve as
 * usual: only what will certainly run is started.
 */
export function prefetchRoomFields(
  context: Context,
  roomId: string,
  info: GraphQLResolveInfo,
): void {
  for (const node of info.fieldNodes) {
    for (const field of selectedFields(node.selectionSet, info.fragments, 'Room')) {
      prefetchers.get(field.name.value)?.(context, roomId, field, info);
    }
  }
}

/**
 * The fields a selection set certainly selects on an object of type `typeName`: its own, and
 * those of inline fragments and fragment spreads without a type condition or on that type.
 * Fields under a directive (`@include`, `@skip`) are left out: only what will certainly run.
 */
export function selectedFields(
  selectionSet: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  typeName: string,
): FieldNode[] {
  const fields: FieldNode[] = [];
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode): void => {
    for (const selection of set.selections) {
      if ((selection.directives?.length ?? 0) > 0) {
        continue;
      }
      if (selection.kind === Kind.FIELD) {
        fields.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition?.name.value;
        if (condition === undefined || condition === typeName) {
          visit(selection.selectionSet);
        }
      } else {
        const name = selection.name.value;
        const fragment = fragments[name];
        if (fragment && !seen.has(name) && fragment.typeCondition.name.value === typeName) {
          seen.add(name);
          visit(fragment.selectionSet);
        }
      }
    }
  };
  if (selectionSet) {
    visit(selectionSet);
  }
  return fields;
}

/**
 * The arguments of a selection of the Room field `field`, coerced as execution will coerce them;
 * `null` when they do not coerce (the field's resolver then reports it).
 */
export function roomFieldArgs<T>(field: FieldNode, info: GraphQLResolveInfo): T | null {
  const room = info.schema.getType('Room');
  const definition =
    room instanceof GraphQLObjectType ? room.getFields()[field.name.value] : undefined;
  if (definition === undefined) {
    return null;
  }
  try {
    return getArgumentValues(definition, field, info.variableValues) as T;
  } catch {
    return null;
  }
}
