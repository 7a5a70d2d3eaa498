/**
 * Random GraphQL operations generated from a schema, reproducible from a seed: field selections
 * within (and now and then past) the depth and alias limits, arguments inline or as variables, of
 * the right type or not, and IDs and cursors drawn from pools of real and malformed values.
 * The schema is walked with graphql-js's own type predicates, the document built as an AST and
 * printed by graphql-js; pure-rand supplies the numbers.
 */
import {
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  type InlineFragmentNode,
  isAbstractType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  type ObjectFieldNode,
  OperationTypeNode,
  parse,
  parseType,
  print,
  type SelectionNode,
  type SelectionSetNode,
  type ValueNode,
  type VariableDefinitionNode,
  validate,
} from 'graphql';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** A seeded source of choices. */
export class Random {
  readonly #rng: RandomGenerator;

  constructor(seed: number) {
    this.#rng = xoroshiro128plus(seed);
  }

  /** An integer in `[min, max]`. */
  int(min: number, max: number): number {
    return uniformInt(this.#rng, min, max);
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.int(0, 999_999) < p * 1_000_000;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) {
      throw new Error('pick from an empty list');
    }
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Up to `count` distinct items, in the list's order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const indexes = new Set<number>();
    const wanted = Math.min(count, items.length);
    while (indexes.size < wanted) {
      indexes.add(this.int(0, items.length - 1));
    }
    return [...indexes].sort((a, b) => a - b).map((index) => items[index] as T);
  }
}

/** The values IDs, cursors and strings are drawn from. */
export interface FuzzPools {
  /** Rooms queries may read (they are not changed). */
  readonly roomIds: readonly string[];
  /** Rooms mutations may change, leave or delete: throwaway rooms only. */
  readonly mutableRoomIds: readonly string[];
  readonly userIds: readonly string[];
  readonly eventIds: readonly string[];
  /** Cursors the facade really issued (the fuzzer adds malformed ones). */
  readonly cursors: readonly string[];
  readonly aliases: readonly string[];
}

export interface FuzzLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  /** Fields per document, to stay below the token limit (about 2,000). */
  readonly maxFields: number;
}

export interface FuzzOptions {
  readonly schema: GraphQLSchema;
  readonly seed: number;
  readonly pools: FuzzPools;
  readonly limits: FuzzLimits;
  /** Root fields never generated, e.g. `Mutation.deleteSession` (it logs the user out). */
  readonly skipRootFields?: readonly string[];
}

export interface FuzzOperation {
  readonly query: string;
  readonly variables: Record<string, unknown>;
}

/** An enum value: a bare name inline, a string in variables. */
class EnumLiteral {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }
}

/** Strings shaped like no Matrix ID, or like one gone wrong: encoding, length, control bytes. */
const malformedIds = [
  '',
  ' ',
  '!',
  '@',
  '#',
  '$',
  '!:',
  '@:localhost',
  '!nope',
  '!nope:localhost',
  '@nobody:localhost',
  '$nope:localhost',
  '#nope:localhost',
  '!x:[::1]:8448',
  '@user:localhost:99999',
  `!${'a'.repeat(300)}:localhost`,
  'x'.repeat(4000),
  '\u0000',
  '!a\u0001b:localhost',
  '@\ud800:localhost',
  '../../_matrix/client/v3/logout',
  '!a/../../b:localhost',
  '!a?b=c&d#e:localhost',
  '%2e%2e%2f',
  '@ü:☃.example',
  '!😀:localhost',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  '1',
  '-1',
];

const oddStrings = [
  '',
  'a',
  'hello',
  ' leading and trailing ',
  'x'.repeat(1001),
  'y'.repeat(40_000),
  'line\nbreak\ttab',
  '\u0000\u0001\u001f',
  '\ud800 lone surrogate',
  'emoji 😀 and ☃',
  '<script>alert(1)</script>',
  '{"json":true}',
  "'; DROP TABLE rooms; --",
  '%s%s%n',
  'm.room.message',
  'm.room.name',
  'm.room.member',
  'm.room.power_levels',
  'm.room.create',
  '__proto__',
];

const ints = [0, 1, 2, 3, 5, 20, 100, 101, -1, 2_147_483_647, -2_147_483_648];
/** Kept small mostly: pages multiply upstream calls. */
const pageSizes = [1, 1, 2, 2, 3, 5, 10, 0, -1, 101, 2_147_483_647];

/** Generates operations one at a time; the same seed and calls give the same operations. */
export class SchemaFuzzer {
  readonly #schema: GraphQLSchema;
  readonly #random: Random;
  readonly #pools: FuzzPools;
  readonly #limits: FuzzLimits;
  readonly #skip: ReadonlySet<string>;
  readonly #cursors: readonly string[];
  /** Per operation: what is left, and the variables declared so far. */
  #fieldsLeft = 0;
  #aliasesLeft = 0;
  #depthLimit = 0;
  #mutation = false;
  #hostile = false;
  #variables: VariableDefinitionNode[] = [];
  #variableValues: Record<string, unknown> = {};

  constructor(options: FuzzOptions) {
    this.#schema = options.schema;
    this.#random = new Random(options.seed);
    this.#pools = options.pools;
    this.#limits = options.limits;
    this.#skip = new Set(options.skipRootFields ?? []);
    this.#cursors = [
      ...options.pools.cursors,
      ...options.pools.cursors.map((cursor) => `${cursor.slice(0, -2)}AA`),
      ...options.pools.cursors.map((cursor) => cursor.split('').reverse().join('')),
      '',
      'x',
      'AAAA',
      Buffer.from('{"token":"s1_2_3","index":-1}').toString('base64url'),
      Buffer.from('not json at all').toString('base64'),
      'eyJ0b2tlbiI6InQifQ',
      '!!!not-base64!!!',
      'c'.repeat(3000),
    ];
  }

  /**
   * The next operation. A hostile one may break any rule (types, limits, unknown fields); any
   * other is regenerated until graphql-js finds it valid for the schema, so that most operations
   * get past validation and run.
   */
  next(options: { mutationShare: number; hostileShare: number }): FuzzOperation {
    const random = this.#random;
    const mutation = random.chance(options.mutationShare);
    this.#hostile = random.chance(options.hostileShare);
    let operation = this.#generate(mutation);
    for (let attempt = 0; !this.#hostile && attempt < 20; attempt++) {
      if (this.#isValid(operation.query)) {
        break;
      }
      operation = this.#generate(mutation);
    }
    return operation;
  }

  #isValid(query: string): boolean {
    try {
      return validate(this.#schema, parse(query)).length === 0;
    } catch {
      // Printed, a lone surrogate is no GraphQL string: the parser refuses it.
      return false;
    }
  }

  /** `true` with probability `p`, in a hostile operation only. */
  #inject(p: number): boolean {
    return this.#hostile && this.#random.chance(p);
  }

  #generate(mutation: boolean): FuzzOperation {
    const random = this.#random;
    this.#mutation = mutation;
    const root = this.#mutation ? this.#schema.getMutationType() : this.#schema.getQueryType();
    if (!root) {
      throw new Error('the schema has no such root type');
    }
    // In a hostile operation, now and then past a limit, to see it refused cleanly.
    this.#depthLimit = this.#inject(0.1)
      ? this.#limits.maxDepth + random.int(1, 3)
      : random.int(2, this.#limits.maxDepth);
    this.#aliasesLeft = this.#inject(0.1)
      ? this.#limits.maxAliases + random.int(1, 5)
      : random.int(0, this.#limits.maxAliases);
    this.#fieldsLeft = this.#limits.maxFields;
    this.#variables = [];
    this.#variableValues = {};

    const fields = Object.values(root.getFields()).filter(
      (field) => !this.#skip.has(`${root.name}.${field.name}`),
    );
    // Mutations run one after another: one or two root fields keep an operation short.
    const count = this.#mutation ? random.int(1, 2) : random.int(1, 3);
    const selections: SelectionNode[] = [];
    for (let index = 0; index < count; index++) {
      const field = this.#field(random.pick(fields), 1, root.name);
      if (field) {
        selections.push(field);
      }
    }
    if (random.chance(0.1)) {
      selections.push(this.#typename());
    }
    const document: DocumentNode = {
      kind: Kind.DOCUMENT,
      definitions: [
        {
          kind: Kind.OPERATION_DEFINITION,
          operation: this.#mutation ? OperationTypeNode.MUTATION : OperationTypeNode.QUERY,
          name: { kind: Kind.NAME, value: this.#mutation ? 'FuzzMutation' : 'FuzzQuery' },
          variableDefinitions: this.#variables,
          directives: [],
          selectionSet: this.#selectionSetOf(selections),
        },
      ],
    };
    return { query: print(document), variables: this.#variableValues };
  }

  #typename(): FieldNode {
    return { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } };
  }

  #selectionSetOf(selections: SelectionNode[]): SelectionSetNode {
    return {
      kind: Kind.SELECTION_SET,
      selections: selections.length > 0 ? selections : [this.#typename()],
    };
  }

  #field(
    field: GraphQLField<unknown, unknown>,
    depth: number,
    parent: string,
  ): FieldNode | undefined {
    const random = this.#random;
    const type = getNamedType(field.type);
    if (this.#fieldsLeft <= 0 || (isCompositeType(type) && depth >= this.#depthLimit)) {
      return undefined;
    }
    this.#fieldsLeft -= 1;
    let alias: FieldNode['alias'];
    if (this.#aliasesLeft > 0 && random.chance(0.25)) {
      this.#aliasesLeft -= 1;
      alias = { kind: Kind.NAME, value: `a${this.#aliasesLeft}_${field.name}` };
    }
    const args = this.#arguments(field.args, `${parent}.${field.name}`);
    const node: FieldNode = {
      kind: Kind.FIELD,
      name: { kind: Kind.NAME, value: field.name },
      ...(alias ? { alias } : {}),
      arguments: args,
      ...(isCompositeType(type)
        ? { selectionSet: this.#selectionSet(type, depth + 1) }
        : this.#inject(0.02)
          ? // A selection on a leaf: a validation error.
            { selectionSet: this.#selectionSetOf([this.#typename()]) }
          : {}),
    };
    return node;
  }

  #selectionSet(type: GraphQLCompositeType, depth: number): SelectionSetNode {
    const random = this.#random;
    const selections: SelectionNode[] = [];
    if (isObjectType(type) || isInterfaceType(type)) {
      const fields = Object.values(type.getFields());
      const leaves = fields.filter((field) => isLeafType(getNamedType(field.type)));
      // At the depth limit, leaves only, so the selection stays within it.
      const usable = depth >= this.#depthLimit ? leaves : fields;
      for (const field of random.sample(usable, random.int(1, 4))) {
        const node = this.#field(field, depth, type.name);
        if (node) {
          selections.push(node);
        }
      }
    }
    if (isAbstractType(type)) {
      const possible = this.#schema.getPossibleTypes(type);
      for (const object of random.sample(possible, random.int(0, 2))) {
        selections.push(this.#inlineFragment(object, depth));
      }
    }
    if (selections.length === 0 || random.chance(0.05)) {
      selections.push(this.#typename());
    }
    if (this.#inject(0.02)) {
      // A field the type does not have: a validation error.
      selections.push({ kind: Kind.FIELD, name: { kind: Kind.NAME, value: 'noSuchField' } });
    }
    return this.#selectionSetOf(selections);
  }

  #inlineFragment(type: GraphQLObjectType, depth: number): InlineFragmentNode {
    return {
      kind: Kind.INLINE_FRAGMENT,
      typeCondition: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: type.name } },
      selectionSet: this.#selectionSet(type, depth),
    };
  }

  #arguments(args: readonly GraphQLArgument[], path: string): ArgumentNode[] {
    const random = this.#random;
    const nodes: ArgumentNode[] = [];
    for (const arg of args) {
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      // A required argument is nearly always given; an optional one half the time.
      if (!(required ? !this.#inject(0.05) : random.chance(0.5))) {
        continue;
      }
      nodes.push({
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: arg.name },
        value: this.#argumentValue(arg.type, arg.name, path),
      });
    }
    if (this.#inject(0.03)) {
      nodes.push({
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: 'noSuchArgument' },
        value: { kind: Kind.INT, value: '1' },
      });
    }
    return nodes;
  }

  /** Inline or through a variable (of the argument's type, or now and then of another). */
  #argumentValue(type: GraphQLInputType, name: string, path: string): ValueNode {
    const random = this.#random;
    const value = this.#value(type, name, path, 0);
    if (!random.chance(0.3)) {
      return toLiteral(value);
    }
    const variable = `v${this.#variables.length}`;
    const declared = this.#inject(0.15)
      ? random.pick(['String', 'Int', 'ID!', '[ID!]!', 'JSON', 'Boolean', 'Membership'])
      : String(type);
    this.#variables.push({
      kind: Kind.VARIABLE_DEFINITION,
      variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: variable } },
      type: parseType(declared),
    });
    if (!this.#inject(0.05)) {
      this.#variableValues[variable] = toJson(value);
    }
    return { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: variable } };
  }

  /** A value for `type`: mostly of that type, now and then of another. */
  #value(type: GraphQLInputType, name: string, path: string, depth: number): unknown {
    const random = this.#random;
    if (this.#inject(0.1)) {
      return this.#wrongValue(depth);
    }
    if (isNonNullType(type)) {
      return this.#value(type.ofType, name, path, depth);
    }
    if (random.chance(0.05)) {
      return null;
    }
    if (isListType(type)) {
      return Array.from({ length: random.int(0, 3) }, () =>
        this.#value(type.ofType, name, path, depth + 1),
      );
    }
    return this.#namedValue(type, name, path, depth);
  }

  #namedValue(type: GraphQLNamedType, name: string, path: string, depth: number): unknown {
    const random = this.#random;
    if (isEnumType(type)) {
      return new EnumLiteral(random.pick(type.getValues()).name);
    }
    if (isInputObjectType(type)) {
      const object: Record<string, unknown> = {};
      for (const field of Object.values(type.getFields())) {
        const required = isNonNullType(field.type) && field.defaultValue === undefined;
        if (required ? !this.#inject(0.05) : random.chance(0.4)) {
          object[field.name] = this.#value(field.type, field.name, `${path}.${field.name}`, depth);
        }
      }
      return object;
    }
    if (!isScalarType(type)) {
      return null;
    }
    switch (type.name) {
      case 'ID':
        return this.#id(name, path);
      case 'Int':
        return random.pick(name === 'first' || name === 'last' ? pageSizes : ints);
      case 'Float':
        return random.pick([0, 1.5, -1, 1e308]);
      case 'Boolean':
        return random.chance(0.5);
      case 'JSON':
        return this.#json(0);
      case 'DateTime':
        return random.pick(['2024-01-01T00:00:00Z', 'yesterday', '']);
      default:
        return this.#string(name);
    }
  }

  /** An ID for an argument called `name`: mostly one that fits it, else any, else malformed. */
  #id(name: string, path: string): string {
    const random = this.#random;
    const pools = this.#pools;
    const rooms = this.#mutation ? pools.mutableRoomIds : pools.roomIds;
    const any = [...rooms, ...pools.userIds, ...pools.eventIds];
    const roll = random.int(0, 99);
    if (roll < 15) {
      return random.pick(malformedIds);
    }
    if (roll < 30) {
      return random.pick(any);
    }
    if (/^(after|before)$/.test(name)) {
      return random.pick(this.#cursors);
    }
    if (/roomId/i.test(name)) {
      return random.pick(rooms);
    }
    if (/userId|^user$/i.test(name)) {
      return random.pick(pools.userIds);
    }
    if (/eventId/i.test(name) || path === 'Room.event.id') {
      return random.pick(pools.eventIds);
    }
    if (name === 'clientMutationId' || name === 'idempotencyKey') {
      return random.pick(['m1', '', 'x'.repeat(300), String(random.int(0, 1000))]);
    }
    return random.pick(any);
  }

  #string(name: string): string {
    const random = this.#random;
    if (/^(after|before)$/.test(name)) {
      return random.pick(this.#cursors);
    }
    if (/alias/i.test(name)) {
      return random.pick([...this.#pools.aliases, ...malformedIds]);
    }
    if (/user/i.test(name)) {
      return random.pick([...this.#pools.userIds, ...malformedIds]);
    }
    return random.pick(oddStrings);
  }

  #json(depth: number): unknown {
    const random = this.#random;
    switch (depth > 3 ? random.int(0, 3) : random.int(0, 6)) {
      case 0:
        return random.pick(ints);
      case 1:
        return random.pick(oddStrings);
      case 2:
        return random.pick([true, false, null]);
      case 3:
        return random.pick([1.5, -0, 1e21]);
      case 4:
        return Array.from({ length: random.int(0, 3) }, () => this.#json(depth + 1));
      case 5:
        // Deep, but far from what a stack would mind.
        return JSON.parse(`${'['.repeat(100)}${']'.repeat(100)}`);
      default:
        return Object.fromEntries(
          Array.from({ length: random.int(0, 3) }, () => [
            random.pick(['m.federate', 'users', 'a', '__proto__', 'type', 'content']),
            this.#json(depth + 1),
          ]),
        );
    }
  }

  /** A value of some other type than asked for. */
  #wrongValue(depth: number): unknown {
    const random = this.#random;
    return random.pick<() => unknown>([
      () => random.pick(ints),
      () => 1.5,
      () => random.chance(0.5),
      () => random.pick(malformedIds),
      () => new EnumLiteral('NOT_A_VALUE'),
      () => [random.pick(malformedIds)],
      () => ({ unexpected: depth }),
      () => 2 ** 31,
    ])();
  }
}

/** The value as a GraphQL literal. */
function toLiteral(value: unknown): ValueNode {
  if (value === null || value === undefined) {
    return { kind: Kind.NULL };
  }
  if (value instanceof EnumLiteral) {
    return { kind: Kind.ENUM, value: value.name };
  }
  if (Array.isArray(value)) {
    return { kind: Kind.LIST, values: value.map(toLiteral) };
  }
  switch (typeof value) {
    case 'boolean':
      return { kind: Kind.BOOLEAN, value };
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 1e21
        ? { kind: Kind.INT, value: String(value) }
        : { kind: Kind.FLOAT, value: String(value) };
    case 'string':
      return { kind: Kind.STRING, value };
    case 'object':
      return {
        kind: Kind.OBJECT,
        fields: Object.entries(value).map(
          ([key, field]): ObjectFieldNode => ({
            kind: Kind.OBJECT_FIELD,
            // A JSON key that is no GraphQL name cannot be written inline.
            name: { kind: Kind.NAME, value: /^[_A-Za-z][_0-9A-Za-z]*$/.test(key) ? key : 'key' },
            value: toLiteral(field),
          }),
        ),
      };
    default:
      return { kind: Kind.NULL };
  }
}

/** The value as JSON for the variables. */
function toJson(value: unknown): unknown {
  if (value instanceof EnumLiteral) {
    return value.name;
  }
  if (Array.isArray(value)) {
    return value.map(toJson);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toJson(field)]));
  }
  return value;
}
