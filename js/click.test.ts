import { describe, expect, it, vi } from "vitest";
import { handleClick, LINK_REL, openableUrl, openInNewTab, resolveClickUrl } from "./click";

const server = { serverBase: "https://ads.test/prefix", serverOrigin: "https://ads.test" };

describe("resolveClickUrl (docs/protocol.md §4)", () => {
  it.each([
    ["/r?id=1", "https://ads.test/prefix/r?id=1"],
    ["//cdn.test/x", "//cdn.test/x"],
    ["https://a.test/", "https://a.test/"],
    ["amazon://item", "amazon://item"],
  ])("%s -> %s", (url, expected) => {
    expect(resolveClickUrl(url, server.serverBase)).toBe(expected);
  });
});

describe("openableUrl", () => {
  it("takes the scheme of the ad server for protocol-relative URLs", () => {
    expect(openableUrl("//cdn.test/x", server)).toEqual({ ok: true, href: "https://cdn.test/x" });
  });

  it("resolves other relative forms against the ad server, not the page", () => {
    expect(openableUrl("landing", server)).toEqual({ ok: true, href: "https://ads.test/landing" });
  });

  it.each(["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,x", "vbscript:x", "file:///etc/passwd", "amazon://item"])(
    "refuses %s",
    (url) => {
      const result = openableUrl(url, server);
      expect(result.ok).toBe(false);
    },
  );

  it("refuses relative URLs when there is no server origin", () => {
    expect(openableUrl("/x", { serverBase: "", serverOrigin: "" })).toEqual({ ok: false, reason: "invalid URL" });
  });
});

describe("handleClick", () => {
  it("tries fallbackUrl exactly once", () => {
    const open = vi.fn();
    const result = handleClick({ url: "mailto:x@y.test", fallbackUrl: "ftp://files.test/" }, { ...server, open });
    expect(open).not.toHaveBeenCalled();
    expect(result).toEqual({
      status: "failed",
      url: "mailto:x@y.test",
      reason: "scheme mailto: is not allowed; fallbackUrl: scheme ftp: is not allowed",
    });
  });

  it("does not use fallbackUrl when url opened", () => {
    const open = vi.fn();
    expect(handleClick({ url: "/a", fallbackUrl: "/b" }, { ...server, open })).toEqual({
      status: "opened",
      url: "https://ads.test/prefix/a",
    });
    expect(open).toHaveBeenCalledTimes(1);
  });

  it("ignores a non-string url", () => {
    const open = vi.fn();
    expect(handleClick({ url: 42 }, { ...server, open })).toEqual({ status: "no-url" });
  });

  it("truncates a huge reported URL", () => {
    const url = `data:text/plain,${"x".repeat(10_000)}`;
    const result = handleClick({ url }, { ...server, open: vi.fn() });
    expect(result.status === "failed" && result.url.length).toBe(2048);
  });
});

describe("openInNewTab", () => {
  const url = "https://ads.test/api/click/b1?area=cta";

  function spyOpen(): ReturnType<typeof vi.fn> {
    const open = vi.fn(() => null);
    vi.spyOn(window, "open").mockImplementation(open);
    return open;
  }

  it("calls window.open with noopener,noreferrer when no host takes the link", () => {
    const open = spyOpen();
    openInNewTab(url);
    expect(open).toHaveBeenCalledTimes(1);
    expect(open).toHaveBeenCalledWith(url, "_blank", "noopener,noreferrer");
    expect(document.querySelectorAll("a")).toHaveLength(0);
  });

  it("lets a host that handles link clicks (VS Code's webview) take it, and opens nothing itself", () => {
    const open = spyOpen();
    const seen: Array<{ href: string | null; target: string; rel: string; composed: boolean }> = [];
    // What VS Code's notebook webview preload does: a body listener that finds the
    // anchor in the event's path, posts its href to the workbench and cancels.
    const host = (event: MouseEvent): void => {
      for (const node of event.composedPath()) {
        if (node instanceof HTMLAnchorElement && node.href) {
          seen.push({ href: node.getAttribute("href"), target: node.target, rel: node.rel, composed: event.composed });
          event.preventDefault();
          event.stopPropagation();
          return;
        }
      }
    };
    document.body.addEventListener("click", host);
    try {
      openInNewTab(url);
    } finally {
      document.body.removeEventListener("click", host);
    }
    expect(seen).toEqual([{ href: url, target: "_blank", rel: LINK_REL, composed: true }]);
    expect(LINK_REL).toBe("noopener noreferrer");
    expect(open).not.toHaveBeenCalled();
    expect(document.querySelectorAll("a")).toHaveLength(0);
  });

  it("opens nothing itself when a host cancels the click without stopping it", () => {
    const open = spyOpen();
    const host = (event: Event): void => event.preventDefault();
    document.addEventListener("click", host);
    try {
      openInNewTab(url);
    } finally {
      document.removeEventListener("click", host);
    }
    expect(open).not.toHaveBeenCalled();
  });

  it("leaves the page's other clicks alone", () => {
    const open = spyOpen();
    openInNewTab(url);
    const button = document.createElement("button");
    document.body.append(button);
    button.click();
    button.remove();
    expect(open).toHaveBeenCalledTimes(1);
  });

  it("reports window.open throwing as a failed click", () => {
    vi.spyOn(window, "open").mockImplementation(() => {
      throw new Error("blocked");
    });
    const result = handleClick({ url }, { ...server, open: (href) => openInNewTab(href) });
    expect(result).toEqual({ status: "failed", url, reason: "window.open failed: Error: blocked" });
    expect(document.querySelectorAll("a")).toHaveLength(0);
  });

  it("never offers a refused scheme to the page as a link", () => {
    const open = spyOpen();
    const clicks = vi.fn();
    document.addEventListener("click", clicks);
    try {
      const result = handleClick({ url: "javascript:alert(1)" }, { ...server, open: (href) => openInNewTab(href) });
      expect(result.status).toBe("failed");
    } finally {
      document.removeEventListener("click", clicks);
    }
    expect(clicks).not.toHaveBeenCalled();
    expect(open).not.toHaveBeenCalled();
  });
});
