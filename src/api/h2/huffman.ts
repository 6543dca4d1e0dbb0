/**
 * HPACK Huffman decoding (RFC 7541 §5.2), four bits at a time: a binary trie is built once, on first use, from
 * the Appendix B code and turned into a table of (trie node, nibble) → (next node, symbol).
 * Strict: EOS inside the string, padding longer than 7 bits or padding that is not the EOS
 * prefix (all ones) are decoding errors.
 */
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./huffman-table";

const EOS = 256;

export class HuffmanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HuffmanError";
  }
}

interface Trie {
  /** children[2n + bit]: the next internal node, or -1 - symbol for a leaf. */
  children: number[];
  /** Bits from the root to each internal node, and whether they are all ones (valid padding). */
  depth: number[];
  allOnes: boolean[];
}

function buildTrie(): Trie {
  const trie: Trie = { children: [0, 0], depth: [0], allOnes: [true] };
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    let node = 0;
    for (let bit = HUFFMAN_LENGTHS[symbol]! - 1; bit >= 0; bit--) {
      const one = (code >>> bit) & 1;
      const slot = 2 * node + one;
      if (bit === 0) {
        trie.children[slot] = -1 - symbol;
        break;
      }
      if (trie.children[slot] === 0) {
        const next = trie.depth.length;
        trie.children[slot] = next;
        trie.children.push(0, 0);
        trie.depth.push(trie.depth[node]! + 1);
        trie.allOnes.push(trie.allOnes[node]! && one === 1);
      }
      node = trie.children[slot]!;
    }
  }
  return trie;
}

/** Table entry bits: next node (9 bits), emitted symbol + 1 (9 bits, 0 = none), EOS seen (bit 18). */
const SYMBOL_SHIFT = 9;
const EOS_FLAG = 1 << 18;
/** Built on the first Huffman string, not at startup (a few ms the health check need not wait for). */
let decoding: ReturnType<typeof buildTable> | undefined;

function buildTable(): { table: Int32Array; depth: number[]; allOnes: boolean[] } {
  const trie = buildTrie();
  const nodes = trie.depth.length;
  const table = new Int32Array(nodes * 16);
  for (let node = 0; node < nodes; node++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let at = node;
      let emitted = 0;
      let eos = 0;
      // The shortest code is 5 bits, so four bits complete at most one symbol.
      for (let bit = 3; bit >= 0; bit--) {
        const next = trie.children[2 * at + ((nibble >>> bit) & 1)]!;
        if (next < 0) {
          const symbol = -1 - next;
          if (symbol === EOS) eos = EOS_FLAG;
          else emitted = symbol + 1;
          at = 0;
        } else {
          at = next;
        }
      }
      table[node * 16 + nibble] = at | (emitted << SYMBOL_SHIFT) | eos;
    }
  }
  return { table, depth: trie.depth, allOnes: trie.allOnes };
}

/** Decodes `bytes[start, end)` to a latin1 string (header octets map 1:1 to char codes). */
export function huffmanDecode(bytes: Uint8Array, start: number, end: number): string {
  const { table, depth, allOnes } = (decoding ??= buildTable());
  let out = "";
  let node = 0;
  for (let i = 2 * start; i < 2 * end; i++) {
    const byte = bytes[i >>> 1]!;
    const entry = table[node * 16 + (i & 1 ? byte & 0xf : byte >>> 4)]!;
    if (entry & EOS_FLAG) throw new HuffmanError("Huffman string contains EOS");
    const symbol = (entry >>> SYMBOL_SHIFT) & 0x1ff;
    if (symbol !== 0) out += String.fromCharCode(symbol - 1);
    node = entry & 0x1ff;
  }
  // The bits after the last symbol lead from the root to `node`: at most 7, all ones (§5.2).
  if (depth[node]! > 7) throw new HuffmanError("Huffman padding longer than 7 bits");
  if (!allOnes[node]) throw new HuffmanError("Huffman padding is not the EOS prefix");
  return out;
}
