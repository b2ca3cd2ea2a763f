import { afterEach, describe, expect, it, vi } from "vitest";
import {
  contextWithTheme,
  detectHostTheme,
  frameTheme,
  modalUrlWithTheme,
  watchHostTheme,
  type Theme,
} from "./theme";

function resetPage(): void {
  for (const element of [document.documentElement, document.body]) {
    element.removeAttribute("class");
    element.removeAttribute("data-jp-theme-light");
    element.removeAttribute("data-theme");
  }
}

/** A `matchMedia` whose dark preference the test controls, with change listeners. */
function fakeMediaQuery(dark: boolean) {
  const listeners = new Set<() => void>();
  const query = {
    matches: dark,
    addEventListener: (_: string, listener: () => void) => listeners.add(listener),
  };
  vi.stubGlobal("matchMedia", () => query);
  return {
    set(value: boolean) {
      query.matches = value;
      for (const listener of listeners) listener();
    },
  };
}

afterEach(() => {
  resetPage();
  vi.unstubAllGlobals();
});

describe("detectHostTheme", () => {
  it("reads JupyterLab / Notebook 7's data-jp-theme-light on <body>", () => {
    document.body.dataset.jpThemeLight = "false";
    expect(detectHostTheme()).toBe("dark");
    document.body.dataset.jpThemeLight = "true";
    expect(detectHostTheme()).toBe("light");
  });

  it("prefers the page's marker to the operating system's preference", () => {
    fakeMediaQuery(true);
    document.body.dataset.jpThemeLight = "true";
    expect(detectHostTheme()).toBe("light");
  });

  it.each([
    ["vscode-dark", "dark"],
    ["vscode-high-contrast", "dark"],
    ["vscode-light", "light"],
    ["vscode-high-contrast-light", "light"],
  ] as const)("reads VS Code's %s body class", (name, theme) => {
    document.body.className = `${name} other`;
    expect(detectHostTheme()).toBe(theme);
  });

  it("reads marimo's dark class on <html> or <body>", () => {
    document.documentElement.className = "dark";
    expect(detectHostTheme()).toBe("dark");
    document.documentElement.className = "";
    document.body.className = "dark-theme";
    expect(detectHostTheme()).toBe("dark");
  });

  it("reads data-theme", () => {
    document.documentElement.dataset.theme = "dark";
    expect(detectHostTheme()).toBe("dark");
  });

  it("falls back to prefers-color-scheme, then light", () => {
    expect(detectHostTheme()).toBe("light");
    fakeMediaQuery(true);
    expect(detectHostTheme()).toBe("dark");
  });
});

describe("watchHostTheme", () => {
  it("reports a switch of JupyterLab's theme once, until aborted", async () => {
    document.body.dataset.jpThemeLight = "true";
    const seen: Theme[] = [];
    const controller = new AbortController();
    watchHostTheme((theme) => seen.push(theme), controller.signal);
    document.body.dataset.jpThemeLight = "false";
    await Promise.resolve();
    document.body.classList.add("unrelated"); // no theme change: not reported
    await Promise.resolve();
    expect(seen).toEqual(["dark"]);
    controller.abort();
    document.body.dataset.jpThemeLight = "true";
    await Promise.resolve();
    expect(seen).toEqual(["dark"]);
  });

  it("follows the operating system when the page has no marker", () => {
    const media = fakeMediaQuery(false);
    const seen: Theme[] = [];
    watchHostTheme((theme) => seen.push(theme), new AbortController().signal);
    media.set(true);
    expect(seen).toEqual(["dark"]);
  });
});

describe("contextWithTheme", () => {
  const context = { messages: [], sdk: "sdk-js", code: "inlineAd", messageId: "a1", otherParams: {} };

  it("adds the host theme when the publisher gave none", () => {
    expect(contextWithTheme(context, null, "dark").otherParams).toEqual({ theme: "dark" });
    expect(contextWithTheme(context, "", "dark").otherParams).toEqual({ theme: "dark" });
    expect(context.otherParams).toEqual({}); // not mutated
  });

  it("leaves an explicit theme alone", () => {
    const explicit = { ...context, otherParams: { theme: "light" } };
    expect(contextWithTheme(explicit, "light", "dark")).toBe(explicit);
  });
});

describe("modalUrlWithTheme", () => {
  const url = "http://127.0.0.1:1/api/modal/b?code=interstitialAd&messageId=a1&sdk=sdk-js";

  it("appends the host theme after sdk when the publisher gave none", () => {
    expect(modalUrlWithTheme(url, null, "dark")).toBe(`${url}&theme=dark`);
  });

  it("keeps the publisher's theme and an empty URL", () => {
    expect(modalUrlWithTheme(`${url}&theme=light`, "light", "dark")).toBe(`${url}&theme=light`);
    expect(modalUrlWithTheme("", null, "dark")).toBe("");
  });
});

describe("frameTheme", () => {
  it("is the publisher's light/dark theme, else the host's, and none for other themes", () => {
    expect(frameTheme(null, "dark")).toBe("dark");
    expect(frameTheme("light", "dark")).toBe("light");
    expect(frameTheme("sepia", "dark")).toBeNull();
  });
});
