/** A bounded map kept as two generations, as in lipservice_sdk.signature: memory stays bounded, the hot set stays. */

export class Memo<V> {
  recent = new Map<string, V>();
  old = new Map<string, V>();
  constructor(readonly limit = 32_768) {}

  get(key: string): V | undefined {
    let value = this.recent.get(key);
    if (value === undefined) {
      value = this.old.get(key);
      if (value !== undefined) this.put(key, value);
    }
    return value;
  }

  put(key: string, value: V): void {
    if (this.recent.size >= this.limit) {
      this.old = this.recent;
      this.recent = new Map();
    }
    this.recent.set(key, value);
  }
}
