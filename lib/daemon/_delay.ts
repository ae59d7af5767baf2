/** Resolves after `ms` milliseconds (polling loops of the CLI and daemon). */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
