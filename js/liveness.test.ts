import { describe, expect, it, vi } from "vitest";
import { HELLO, Liveness } from "./liveness";
import { FakeModel } from "./test-support";

describe("Liveness", () => {
  it("asks once, whatever the number of proxies attached", () => {
    const liveness = new Liveness();
    const model = new FakeModel({}, "silent");
    const signal = new AbortController().signal;
    liveness.attach(model.initializeProxy(), signal);
    liveness.attach(model, signal);
    liveness.attach(model, signal);
    expect(model.sent).toEqual([HELLO]);
    expect(liveness.state).toBe("waiting");
  });

  it("only listens when not asked to ask (the model's initialize)", () => {
    const liveness = new Liveness();
    const model = new FakeModel({}, "silent");
    liveness.attach(model.initializeProxy(), new AbortController().signal, false);
    expect(model.sent).toEqual([]);
    model.sendFromPython({ kind: "live" });
    liveness.attach(model, new AbortController().signal);
    expect(model.sent).toEqual([]);
    expect(liveness.live).toBe(true);
  });

  it("goes live on Python's answer and tells subscribers once", () => {
    const liveness = new Liveness();
    const model = new FakeModel({}, "silent");
    const listener = vi.fn();
    liveness.subscribe(listener, new AbortController().signal);
    liveness.attach(model, new AbortController().signal);
    model.sendFromPython({ kind: "user-event", name: "x" });
    expect(liveness.live).toBe(false);
    model.sendFromPython({ kind: "live" });
    model.sendFromPython({ kind: "live" });
    expect(liveness.live).toBe(true);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("ignores what is not the answer", () => {
    const liveness = new Liveness();
    const model = new FakeModel({}, "silent");
    liveness.attach(model, new AbortController().signal);
    for (const content of [null, "live", ["live"], { kind: "LIVE" }, { live: true }]) {
      model.sendFromPython(content as never);
    }
    expect(liveness.state).toBe("waiting");
  });

  it("is gone for good once the host marks the comm dead", () => {
    const liveness = new Liveness();
    const model = new FakeModel();
    liveness.attach(model, new AbortController().signal);
    expect(liveness.live).toBe(true);
    model.disconnect();
    expect(liveness.state).toBe("gone");
    model.sendFromPython({ kind: "live" });
    expect(liveness.state).toBe("gone");
  });

  it("does not ask once gone, and stops listening when the signal aborts", () => {
    const liveness = new Liveness();
    const model = new FakeModel({}, "silent");
    const controller = new AbortController();
    liveness.attach(model, controller.signal);
    expect(model.listenerCount()).toBe(2);
    controller.abort();
    expect(model.listenerCount()).toBe(0);
    model.sendFromPython({ kind: "live" });
    expect(liveness.state).toBe("waiting");
    liveness.attach(model, controller.signal);
    expect(model.listenerCount()).toBe(0);
  });
});
