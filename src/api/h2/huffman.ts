/**
 * HPACK Huffman decoding (RFC 7541 §5.2): a binary trie built once from the Appendix B code.
 * Strict: EOS inside the string, padding longer than 7 bits or padding that is not the EOS
 * prefix (all ones) are decoding errors.
 */
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./huffman-table";

const EOS = 256;
/** children[2n] / children[2n+1]: next node for bit 0 / 1; a negative value -1-s is symbol s. */
const children = buildTrie();

function buildTrie(): Int32Array {
  const nodes: number[] = [0, 0];
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (bit === 0) {
        nodes[slot] = -1 - symbol;
      } else {
        if (nodes[slot] === 0) {
          nodes[slot] = nodes.length / 2;
          nodes.push(0, 0);
        }
        node = nodes[slot]!;
      }
    }
  }
  return Int32Array.from(nodes);
}

export class HuffmanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HuffmanError";
  }
}

/** Decodes `bytes[start, end)` to a latin1 string (header octets map 1:1 to char codes). */
export function huffmanDecode(bytes: Uint8Array, start: number, end: number): string {
  let out = "";
  let node = 0;
  /** Bits read since the last complete symbol, and whether they were all ones. */
  let pending = 0;
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >>> bit) & 1;
      const next = children[2 * node + one]!;
      pending++;
      ones &&= one === 1;
      if (next < 0) {
        const symbol = -1 - next;
        if (symbol === EOS) throw new HuffmanError("Huffman string contains EOS");
        out += String.fromCharCode(symbol);
        node = 0;
        pending = 0;
        ones = true;
      } else {
        node = next;
      }
    }
  }
  if (pending > 7) throw new HuffmanError("Huffman padding longer than 7 bits");
  if (!ones) throw new HuffmanError("Huffman padding is not the EOS prefix");
  return out;
}
