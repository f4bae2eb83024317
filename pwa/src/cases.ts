/** Case rules the phone needs: the stage order and which cases come first. */
import type { Case } from "./api";

export const STAGES = [
  "filing",
  "investigation",
  "evidence",
  "review",
  "decision",
  "service",
  "execution",
  "archive",
] as const;
export const ACTIVITIES = [
  "onsite_inspection",
  "random_inspection",
  "evidence_collection",
  "evidence_preservation",
  "hearing",
  "service",
  "other",
] as const;

/** Stages an item may be filed under: up to and including the case's current stage. */
export function allowedStages(current: string): string[] {
  const idx = STAGES.indexOf(current as (typeof STAGES)[number]);
  return STAGES.slice(0, idx < 0 ? STAGES.length : idx + 1);
}

/** Recently used cases first (most recent first), then the server's order. */
export function orderCases(cases: Case[], recent: number[]): Case[] {
  const rank = (c: Case) => {
    const i = recent.indexOf(c.id);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return cases
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
    .map(({ c }) => c);
}
