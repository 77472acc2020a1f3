/**
 * The page's Content-Security-Policy forbids eval (script-src 'self'). zod 4 compiles fast parsers
 * with `new Function` unless told not to; under that CSP it would fail and report violations.
 * Imported first by the entry so it is set before any schema runs.
 */
import * as z from 'zod';

z.config({ jitless: true });
