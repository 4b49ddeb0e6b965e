// A minimal AsyncLocalStorage context manager (what @opentelemetry/context-async-hooks provides), for tests only.
import { AsyncLocalStorage } from "node:async_hooks";
import { ROOT_CONTEXT } from "@opentelemetry/api";

export class AsyncLocalStorageContextManager {
  storage = new AsyncLocalStorage();
  active() {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with(context, fn, thisArg, ...args) {
    return this.storage.run(context, () => fn.apply(thisArg, args));
  }
  bind(_context, target) {
    return target;
  }
  enable() {
    return this;
  }
  disable() {
    this.storage.disable();
    return this;
  }
}
