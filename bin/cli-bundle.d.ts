/** Types of cli-bundle.js (plain JavaScript: it runs before anything TypeScript is loaded). */
export declare const MANIFEST: string;
export interface SourceStamp {
  file: string;
  size: number;
  mtimeMs: number;
}
export declare function stampSources(root: string, files: readonly string[]): SourceStamp[];
export declare function freshBundle(root: string, dir?: string): string | null;
