/** The whole schema: imports every domain file for its side effects, then builds. */
import { builder } from './builder.ts';
import './viewer.ts';

export const schema = builder.toSchema({ sortSchema: true });
