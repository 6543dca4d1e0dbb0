/** A FIFO with a bound: a push beyond it is refused and counted, never blocks the reader. */
export class BoundedQueue<T> {
  #items: T[] = [];
  #head = 0;
  dropped = 0;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** False (and counted) when the queue is full. */
  push(item: T): boolean {
    if (this.length >= this.limit) {
      this.dropped++;
      return false;
    }
    this.#items.push(item);
    return true;
  }

  /** Puts an item back at the front (a send to retry); may exceed the bound by the items in flight. */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as T;
    // Compact once the consumed prefix is half the array.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
