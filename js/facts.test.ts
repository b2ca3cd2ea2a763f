import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { claimBrowserFactsReport, collectBrowserFacts, FACTS_SENT_KEY } from "./facts";

function fakeWindow(overrides: { connection?: unknown; dark?: boolean; orientation?: string } = {}): Window {
  return {
    screen: {
      width: 1440,
      height: 900,
      orientation: overrides.orientation === undefined ? undefined : { type: overrides.orientation },
    },
    devicePixelRatio: 2,
    matchMedia: (query: string) => ({ matches: query === "(prefers-color-scheme: dark)" && overrides.dark === true }),
    navigator: { language: "cs-CZ", userAgent: "UA/1", connection: overrides.connection },
  } as unknown as Window;
}

describe("collectBrowserFacts", () => {
  it("reads screen, locale, time zone and user agent", () => {
    vi.spyOn(Intl.DateTimeFormat.prototype, "resolvedOptions").mockReturnValue({
      timeZone: "Europe/Prague",
    } as Intl.ResolvedDateTimeFormatOptions);
    expect(collectBrowserFacts(fakeWindow({ dark: true, orientation: "portrait-primary" }))).toEqual({
      screen: { width: 1440, height: 900, dpr: 2, darkMode: true, orientation: "portrait" },
      locale: "cs-CZ",
      timezone: "Europe/Prague",
      userAgent: "UA/1",
    });
  });

  it("falls back to the screen shape for orientation", () => {
    expect(collectBrowserFacts(fakeWindow()).screen.orientation).toBe("landscape");
  });

  it("adds network type and effectiveType as detail when present", () => {
    expect(collectBrowserFacts(fakeWindow({ connection: { type: "wifi", effectiveType: "4g" } })).network).toEqual({
      type: "wifi",
      detail: "4g",
    });
    expect(collectBrowserFacts(fakeWindow({ connection: { effectiveType: "3g" } })).network).toEqual({ detail: "3g" });
    expect(collectBrowserFacts(fakeWindow()).network).toBeUndefined();
  });
});

describe("claimBrowserFactsReport", () => {
  beforeEach(() => {
    delete (globalThis as Record<symbol, unknown>)[FACTS_SENT_KEY];
  });
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[FACTS_SENT_KEY];
  });

  it("is true once per page", () => {
    expect(claimBrowserFactsReport()).toBe(true);
    expect(claimBrowserFactsReport()).toBe(false);
  });
});
