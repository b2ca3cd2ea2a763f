import { describe, expect, it } from "vitest";
import { CONTAINER_PROPERTIES, IFRAME_PROPERTIES, cssPropertyName, sanitizeStyles } from "./styles";

describe("sanitizeStyles", () => {
  it("keeps allowed properties, camelCase or kebab-case, numbers as px", () => {
    expect(
      sanitizeStyles({ maxWidth: "640px", "border-radius": 8, opacity: 0.9, margin: 0 }, IFRAME_PROPERTIES),
    ).toEqual([
      ["max-width", "640px"],
      ["border-radius", "8px"],
      ["opacity", "0.9"],
      ["margin", "0"],
    ]);
  });

  it.each([
    ["position", "fixed"],
    ["zIndex", "1"],
    ["backgroundImage", "linear-gradient(red, blue)"],
    ["borderImage", "none"],
    ["top", "0"],
    ["pointerEvents", "none"],
  ])("drops property %s", (property, value) => {
    expect(sanitizeStyles({ [property]: value }, CONTAINER_PROPERTIES)).toEqual([]);
  });

  it.each([
    "url(https://evil.test/a.png)",
    "URL (x)",
    "image-set('a.png' 1x)",
    "-webkit-image-set('a.png' 1x)",
    "expression(alert(1))",
    "javascript:alert(1)",
    "red; position: fixed",
    "\\75 rl(x)",
    "red }",
    "x".repeat(300),
    "",
  ])("refuses value %s", (value) => {
    expect(sanitizeStyles({ background: value }, IFRAME_PROPERTIES)).toEqual([]);
  });

  it("refuses non-finite numbers and non-string values", () => {
    expect(sanitizeStyles({ width: Number.NaN, height: {}, opacity: true }, IFRAME_PROPERTIES)).toEqual([]);
  });

  it("bounds heights like resize-iframe (docs/protocol.md §13)", () => {
    const kept = (styles: Record<string, unknown>) => sanitizeStyles(styles, IFRAME_PROPERTIES);
    expect(kept({ height: 120, minHeight: "90px", maxHeight: "auto" })).toEqual([
      ["height", "120px"],
      ["min-height", "90px"],
      ["max-height", "auto"],
    ]);
    expect(kept({ height: 1e308 })).toEqual([["height", "10000px"]]);
    expect(kept({ minHeight: "99999999px" })).toEqual([["min-height", "10000px"]]);
    expect(kept({ height: "1e308px" })).toEqual([["height", "10000px"]]);
    expect(kept({ minHeight: "5000vh", height: "250%" })).toEqual([
      ["min-height", "100vh"],
      ["height", "100%"],
    ]);
    expect(kept({ height: "0" })).toEqual([["height", "0"]]);
    for (const bad of ["-5px", -5, "10000em", "calc(100vh * 100)", "100", "max(1px, 99999px)"]) {
      expect(kept({ height: bad })).toEqual([]);
    }
    expect(sanitizeStyles({ minHeight: "99999px" }, CONTAINER_PROPERTIES)).toEqual([["min-height", "10000px"]]);
  });

  it("lets only the container change display", () => {
    expect(sanitizeStyles({ display: "flex" }, CONTAINER_PROPERTIES)).toEqual([["display", "flex"]]);
    expect(sanitizeStyles({ display: "block" }, IFRAME_PROPERTIES)).toEqual([]);
  });

  it("ignores maps that are not objects", () => {
    expect(sanitizeStyles("width: 10px", IFRAME_PROPERTIES)).toEqual([]);
    expect(sanitizeStyles(["width"], IFRAME_PROPERTIES)).toEqual([]);
    expect(sanitizeStyles(null, IFRAME_PROPERTIES)).toEqual([]);
  });

  it("names properties in kebab-case", () => {
    expect(cssPropertyName("borderTopLeftRadius")).toBe("border-top-left-radius");
  });
});
