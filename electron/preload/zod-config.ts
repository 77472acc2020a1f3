/**
 * The page's Content-Security-Policy forbids eval; zod 4 compiles fast parsers with `new Function`
 * unless told not to. The preload validates every reply and event with zod, so it must be jitless
 * like the renderer (renderer/zodConfig.ts). Imported first by the preload entry.
 */
import * as z from 'zod';

z.config({ jitless: true });
