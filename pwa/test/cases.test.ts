import { describe, expect, it } from "vitest";
import type { Case } from "../src/api";
import { allowedStages, orderCases } from "../src/cases";

const c = (id: number): Case => ({
  id,
  number: `N${id}`,
  title: `T${id}`,
  current_stage: "filing",
});

describe("cases", () => {
  it("offers the stages up to the case's current one", () => {
    expect(allowedStages("filing")).toEqual(["filing"]);
    expect(allowedStages("evidence")).toEqual(["filing", "investigation", "evidence"]);
  });

  it("puts the last used cases first, then keeps the server's order", () => {
    const ordered = orderCases([c(1), c(2), c(3), c(4)], [3, 1]).map((x) => x.id);
    expect(ordered).toEqual([3, 1, 2, 4]);
  });
});
