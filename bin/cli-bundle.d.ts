/** Types of cli-bundle.js (plain JavaScript: it runs before anything TypeScript is loaded). */
export declare const MANIFEST: string;
export declare function hashSources(root: string, files: readonly string[]): string;
export declare function freshBundle(root: string, dir?: string): string | null;
