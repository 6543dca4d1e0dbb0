/**
 * Process-wide counts of the PSK client's post-handshake events, plain numbers for the metrics
 * endpoint: a server flooding KeyUpdates, the §5.5 rekeys, and connections we ended with an
 * alert after the handshake (a plaintext alert, a cap passed, a record that does not decrypt).
 */
export const pskCounters = {
  keyUpdatesReceived: 0,
  keyUpdatesSent: 0,
  /** KeyUpdates we sent because our key had protected `rekeyAfterRecords` records. */
  rekeysAtRecordLimit: 0,
  failuresAfterHandshake: 0,
};
