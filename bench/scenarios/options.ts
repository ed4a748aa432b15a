export interface BenchOptions {
  quick: boolean;
  /** Where the server of this scenario writes its CPU profile (undefined: not profiling). */
  profileDir(scenario: string): string | undefined;
}
