/**
 * A Pothos plugin: each node's `id` resolves at once. The relay plugin resolves every node `id`
 * through an `async` wrapper, so each Room and User of an answer costs a promise that graphql then
 * awaits object by object: a 50-room list with each room's latest message made a hundred of
 * them, and paid for each in microtasks and garbage. Here a node's ID is its Matrix ID, at hand on
 * the object, so the field returns what the wrapper would have, encoded by the same
 * `relay.encodeGlobalID`, without the promise. An `id` resolver that returns a promise still goes
 * through the relay plugin's own wrapper.
 */
import SchemaBuilder, {
  BasePlugin,
  type PothosOutputFieldConfig,
  type SchemaTypes,
} from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';

type IdResolver = (parent: unknown, args: object, context: object, info: unknown) => unknown;

export class ImmediateNodeIdsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const encode = this.builder.options.relay?.encodeGlobalID;
    if (fieldConfig.kind !== 'Object' || fieldConfig.name !== 'id' || encode === undefined) {
      return resolver;
    }
    const typeConfig = this.buildCache.getTypeConfig(fieldConfig.parentType);
    // `builder.node(ref, { id: { resolve } })` keeps its options on the type (plugin-relay).
    const idOf = (typeConfig.pothosOptions as { id?: { resolve?: unknown } }).id?.resolve;
    if (typeConfig.kind !== 'Object' || typeof idOf !== 'function') {
      return resolver;
    }
    const typeName = typeConfig.name;
    return (parent, args, context, info) => {
      const id = (idOf as IdResolver)(parent, args, context, info);
      if (id !== null && typeof id === 'object' && 'then' in id) {
        return resolver(parent, args, context, info);
      }
      return encode(typeName, String(id), context);
    };
  }
}

const pluginName = 'immediateNodeIds';

SchemaBuilder.registerPlugin(pluginName, ImmediateNodeIdsPlugin);

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      immediateNodeIds: ImmediateNodeIdsPlugin<Types>;
    }
  }
}

export default pluginName;
