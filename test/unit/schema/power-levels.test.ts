import { describe, expect, it } from 'vitest';
import { graphqlLevel } from '../../../src/schema/power-levels.ts';

describe('graphqlLevel', () => {
  it('should keep the usual levels as they are', () => {
    expect([-1, 0, 50, 100].map(graphqlLevel)).toEqual([-1, 0, 50, 100]);
  });

  it("should clamp levels beyond GraphQL's 32-bit Int, a privileged creator's to the largest", () => {
    expect(graphqlLevel(2 ** 40)).toBe(2_147_483_647);
    expect(graphqlLevel(-(2 ** 40))).toBe(-2_147_483_648);
    expect(graphqlLevel(Number.POSITIVE_INFINITY)).toBe(2_147_483_647);
  });
});
