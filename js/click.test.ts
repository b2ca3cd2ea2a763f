import { describe, expect, it, vi } from "vitest";
import { handleClick, openableUrl, resolveClickUrl } from "./click";

const server = { serverBase: "https://ads.test/prefix", serverOrigin: "https://ads.test" };

describe("resolveClickUrl (PROTOCOL.md §4)", () => {
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
